"""Image intake: every bad-input code, each from a real malformed file; what goes to Gemini."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from pipeline.backends.gemini.backend import image_part_bytes
from pipeline.errors import ImageRejected
from pipeline.images import (
    SourceImage,
    decode_image,
    find_images,
    open_image,
    pixels_of,
    read_base64,
    read_bytes,
    read_path,
    sniff_mime_type,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


def encode(image: Image.Image, fmt: str, **save_args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR header is rewritten to claim width x height."""
    data = bytearray(encode(Image.new("L", (8, 8), 0), "PNG"))
    ihdr_start = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr_start + 13]))
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.fixture()
def png_bytes() -> bytes:
    return encode(Image.new("RGB", (40, 20), "red"), "PNG")


def reject_code(data: bytes, *, max_pixels: int = MAX_PIXELS) -> str:
    with pytest.raises(ImageRejected) as caught:
        decode_image(read_bytes(data, 0, max_bytes=MAX_BYTES), max_pixels=max_pixels)
    return caught.value.code


def test_path_payload_keeps_name_and_hash_of_original_bytes(tmp_path: Path, png_bytes: bytes) -> None:
    path = tmp_path / "flyer.png"
    path.write_bytes(png_bytes)
    payload = read_path(path, 3, max_bytes=MAX_BYTES)
    assert (payload.index, payload.source) == (3, str(path))
    assert payload.sha256 == hashlib.sha256(png_bytes).hexdigest()


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,", "data:image/jpeg;base64,"])
def test_base64_and_data_urls_decode_to_the_same_bytes(png_bytes: bytes, prefix: str) -> None:
    payload = read_base64(prefix + base64.b64encode(png_bytes).decode(), 0, max_bytes=MAX_BYTES)
    assert payload.data == png_bytes
    assert payload.source == "image-0"
    # the data-URL prefix said jpeg for one case: the sniffed type wins
    assert decode_image(payload, max_pixels=MAX_PIXELS).mime_type == "image/png"


def test_extension_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(encode(Image.new("RGB", (10, 10)), "JPEG"))
    assert (
        decode_image(read_path(path, 0, max_bytes=MAX_BYTES), max_pixels=MAX_PIXELS).mime_type == "image/jpeg"
    )


def test_empty_file_is_rejected_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageRejected) as caught:
        read_path(path, 0, max_bytes=MAX_BYTES)
    assert caught.value.code == "empty"


def test_empty_base64_is_rejected_as_empty() -> None:
    with pytest.raises(ImageRejected) as caught:
        read_base64("data:image/png;base64,", 0, max_bytes=MAX_BYTES)
    assert caught.value.code == "empty"


def test_invalid_base64_is_not_an_image() -> None:
    with pytest.raises(ImageRejected) as caught:
        read_base64("this is not base64!!", 0, max_bytes=MAX_BYTES)
    assert caught.value.code == "not_an_image"


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    assert reject_code(b"MONDAY karaoke at the Rusty Nail 9pm\n") == "not_an_image"


def test_truncated_png_is_corrupt(png_bytes: bytes) -> None:
    big = encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG")
    assert reject_code(big[: len(big) // 2]) == "corrupt_image"


def test_truncated_jpeg_is_corrupt() -> None:
    jpeg = encode(Image.effect_noise((300, 300), 64).convert("RGB"), "JPEG", quality=90)
    assert reject_code(jpeg[: len(jpeg) // 3]) == "corrupt_image"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_real_images_of_other_types_are_unsupported(fmt: str) -> None:
    assert reject_code(encode(Image.new("RGB", (10, 10)), fmt)) == "unsupported_type"


def test_webp_is_supported() -> None:
    decoded = decode_image(
        read_bytes(encode(Image.new("RGB", (30, 10)), "WEBP"), 0, max_bytes=MAX_BYTES), max_pixels=MAX_PIXELS
    )
    assert (decoded.mime_type, decoded.width, decoded.height) == ("image/webp", 30, 10)


def test_file_over_the_size_limit_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode(Image.effect_noise((300, 300), 64).convert("RGB"), "PNG"))
    with pytest.raises(ImageRejected) as caught:
        read_path(path, 0, max_bytes=1000)
    assert caught.value.code == "too_large"


def test_base64_over_the_size_limit_is_too_large(png_bytes: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        read_base64(base64.b64encode(png_bytes * 10).decode(), 0, max_bytes=len(png_bytes))
    assert caught.value.code == "too_large"


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # 50,000 x 50,000 pixels claimed by a file of under 100 bytes: decoding it would need 2.5 GB.
    bomb = png_claiming_size(50_000, 50_000)
    assert len(bomb) < 200
    assert reject_code(bomb) == "too_many_pixels"


def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    assert reject_code(data, max_pixels=9_999) == "too_many_pixels"
    assert decode_image(read_bytes(data, 0, max_bytes=MAX_BYTES), max_pixels=10_000).width == 100


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    data = encode(Image.new("RGB", (40, 20), "blue"), "JPEG", exif=exif.tobytes())
    decoded = decode_image(read_bytes(data, 0, max_bytes=MAX_BYTES), max_pixels=MAX_PIXELS)
    assert (decoded.width, decoded.height) == (20, 40)


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic", "image/heic"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-1.7", None),
    ],
)
def test_sniff_mime_type(head: bytes, mime: str | None) -> None:
    assert sniff_mime_type(head + b"\x00" * 16) == mime


def test_find_images_searches_directories_recursively(tmp_path: Path, png_bytes: bytes) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.png", "a/b/two.JPG", "a/notes.txt"):
        (tmp_path / name).write_bytes(png_bytes)
    found = find_images([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/two.JPG", "a/one.png"]


# --- open_image: header facts and a whole-file check, no pixels; the hand-off to Gemini ------


def opened(data: bytes, *, max_pixels: int = MAX_PIXELS) -> SourceImage:
    return open_image(read_bytes(data, 0, max_bytes=MAX_BYTES), max_pixels=max_pixels)


def open_reject_code(data: bytes, *, max_pixels: int = MAX_PIXELS) -> str:
    with pytest.raises(ImageRejected) as caught:
        opened(data, max_pixels=max_pixels)
    return caught.value.code


def noise(size: tuple[int, int] = (300, 200)) -> Image.Image:
    return Image.effect_noise(size, 64).convert("RGB")


def png_with_chunk_before_iend(data: bytes, kind: bytes, body: bytes) -> bytes:
    """The PNG with one more chunk (valid CRC) just before IEND, i.e. after the pixels."""
    iend = data.rindex(b"IEND") - 4
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return data[:iend] + chunk + data[iend:]


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_open_image_reads_the_header_and_leaves_pixels_undecoded(fmt: str, mime: str) -> None:
    data = encode(noise(), fmt)
    source = opened(data)
    assert (source.mime_type, source.width, source.height, source.orientation) == (mime, 300, 200, 1)
    assert source.data == data
    assert "pixels" not in vars(source)  # the cached property was never computed
    assert source.pixels.size == (300, 200) and source.pixels.mode == "RGB"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_open_image_refuses_a_truncated_file_as_corrupt(fmt: str, keep: float) -> None:
    data = encode(noise(), fmt)
    assert open_reject_code(data[: int(len(data) * keep)]) == "corrupt_image"


def test_open_image_refuses_a_png_with_a_damaged_chunk() -> None:
    data = bytearray(encode(noise(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 100] ^= 0xFF  # one flipped byte in the pixel data: the chunk's CRC no longer holds
    assert open_reject_code(bytes(data)) == "corrupt_image"


def test_open_image_refuses_bombs_and_counts_against_the_limit() -> None:
    assert open_reject_code(png_claiming_size(50_000, 50_000)) == "too_many_pixels"
    assert (
        open_reject_code(encode(Image.new("RGB", (100, 100)), "PNG"), max_pixels=9_999) == "too_many_pixels"
    )


def test_open_image_reads_the_exif_orientation_without_decoding() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    source = opened(encode(Image.new("RGB", (40, 20), "blue"), "JPEG", exif=exif.tobytes()))
    assert (source.orientation, source.upright) == (6, False)
    assert "pixels" not in vars(source)
    assert source.pixels.size == (20, 40)  # upright once decoded


def test_a_png_with_exif_after_its_pixels_is_left_to_the_decoder() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = png_with_chunk_before_iend(
        encode(Image.new("RGB", (40, 20), "blue"), "PNG"), b"eXIf", exif.tobytes()
    )
    source = opened(data)
    assert not source.upright  # unknown from the header: not assumed upright
    assert source.pixels.size == (20, 40)  # the decoder found and applied it


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_an_upright_image_within_limits_is_sent_as_it_came(fmt: str, mime: str) -> None:
    data = encode(noise(), fmt)
    sent, sent_mime = image_part_bytes(opened(data), max_side_px=3000)
    assert sent == data  # the very bytes that came in, not a re-encoding
    assert sent_mime == mime


def test_a_rotated_jpeg_is_decoded_turned_and_re_encoded() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.new("RGB", (40, 20), "blue"), "JPEG", exif=exif.tobytes())
    sent, sent_mime = image_part_bytes(opened(data), max_side_px=3000)
    assert sent != data and sent_mime == "image/jpeg"
    assert Image.open(io.BytesIO(sent)).size == (20, 40)


def test_an_image_over_the_side_limit_is_downscaled_in_its_own_type() -> None:
    sent, sent_mime = image_part_bytes(opened(encode(Image.new("RGB", (4000, 1000), "white"), "PNG")), 3000)
    assert sent_mime == "image/png"
    assert Image.open(io.BytesIO(sent)).size == (3000, 750)


def test_pixels_of_passes_decoded_images_through_and_decodes_source_images() -> None:
    image = Image.new("RGB", (10, 10))
    assert pixels_of(image) is image
    assert pixels_of(opened(encode(image, "PNG"))).size == (10, 10)


@pytest.mark.parametrize(("width", "height", "size"), [(7_000, 7_000, "49 MP"), (50_000, 50_000, "2,500 MP")])
def test_a_bomb_message_quotes_the_projects_limit_not_pillows(width: int, height: int, size: str) -> None:
    # 49 MP is under Pillow's own cap (our check answers); 2,500 MP is over it (Pillow's error is reworded)
    with pytest.raises(ImageRejected) as caught:
        decode_image(
            read_bytes(png_claiming_size(width, height), 0, max_bytes=MAX_BYTES), max_pixels=MAX_PIXELS
        )
    assert caught.value.code == "too_many_pixels"
    assert size in caught.value.message
    assert "limit is 40 MP" in caught.value.message and "89478485" not in caught.value.message


@pytest.mark.parametrize(
    ("brand", "mime"), [(b"avif", "image/avif"), (b"avis", "image/avif"), (b"heic", "image/heic")]
)
def test_avif_and_heic_are_known_images_of_an_unsupported_type(brand: bytes, mime: str) -> None:
    head = b"\x00\x00\x00\x1cftyp" + brand + b"\x00\x00\x00\x00mif1miaf"
    assert sniff_mime_type(head) == mime
    assert reject_code(head) == "unsupported_type"
