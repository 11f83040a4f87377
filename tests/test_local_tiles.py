"""Preprocessing for OCR: upscaling small images, tiling tall ones, capture dates (no OCR run)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import struct
import zlib

from PIL import Image

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tiles import merge_tiles, plan_tiles, upscale_factor
from pipeline.capture import PNG_TIME_KEY, capture_date, png_time
from pipeline.images import ImagePayload


def test_small_flyers_are_upscaled_and_screenshots_are_not() -> None:
    assert upscale_factor(405, 525) == 2.0
    assert 1.7 < upscale_factor(563, 732) < 1.8
    assert upscale_factor(600, 476) == 1.0  # a screenshot of that width reads as it is
    assert upscale_factor(1280, 800) == 1.0
    assert upscale_factor(390, 2532) == 1.0  # a tall capture is tiled, not enlarged


def test_ordinary_images_are_one_tile() -> None:
    assert len(plan_tiles(1905, 2700, 2000)) == 1
    assert len(plan_tiles(1170, 2532, 2000)) == 1


def test_tall_captures_are_cut_into_overlapping_tiles_that_cover_the_image() -> None:
    tiles = plan_tiles(1170, 6000, 2000)
    assert len(tiles) >= 5
    assert tiles[0].top == 0 and tiles[-1].bottom == 6000
    for above, below in itertools.pairwise(tiles):
        assert below.top < above.bottom  # overlap
        assert above.keep_to == below.keep_from  # every y is kept by exactly one tile
        assert above.bottom - above.top <= 2000


def test_merged_tiles_keep_a_line_in_the_overlap_once() -> None:
    tiles = plan_tiles(1170, 6000, 2000)
    cut = tiles[1].top + (tiles[0].bottom - tiles[1].top) / 2  # middle of the first overlap
    line = OcrLine("MONDAY 9PM", 40, cut - 10, 300, cut + 10)
    half_above = OcrLine("Tuesday", 40, tiles[0].bottom - 12, 300, tiles[0].bottom)  # cut by the edge
    merged = merge_tiles(tiles, [[line, half_above], [line]] + [[] for _ in tiles[2:]])
    assert merged.count(line) == 1
    assert half_above not in merged  # the first tile sees only its top half; the next reads it whole


def _png_with_time(stamp: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    data = buffer.getvalue()
    body = struct.pack(">HBBBBB", stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    chunk = struct.pack(">I", 7) + b"tIME" + body + struct.pack(">I", zlib.crc32(b"tIME" + body))
    return data[:33] + chunk + data[33:]  # right after IHDR


def test_png_time_is_read_from_the_bytes() -> None:
    assert png_time(_png_with_time(dt.datetime(2026, 6, 20, 21, 5, 0))) == dt.datetime(
        2026, 6, 20, 21, 5, 0, tzinfo=dt.UTC
    )
    assert png_time(b"\x89PNG\r\n\x1a\n") is None
    assert png_time(b"not a png") is None


def test_capture_date_prefers_exif_then_png_time() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2026:06:20 21:05:00"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(buffer.getvalue())) as photo:
        assert capture_date(photo) == dt.date(2026, 6, 20)
    plain = Image.new("RGB", (4, 4))
    assert capture_date(plain) is None
    plain.info[PNG_TIME_KEY] = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    assert capture_date(plain) == dt.date(2025, 1, 2)


def test_intake_keeps_a_png_capture_time_for_the_backend() -> None:
    from pipeline.images import decode_image

    data = _png_with_time(dt.datetime(2026, 6, 20, 21, 5, 0))
    payload = ImagePayload(index=0, source="x.png", data=data, sha256="0" * 64)
    assert capture_date(decode_image(payload, max_pixels=10_000).image) == dt.date(2026, 6, 20)
