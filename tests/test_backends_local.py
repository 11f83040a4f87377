"""The local backend: real rapidocr on small rendered images, plus its error handling."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.backends.base import LocalOptions, make_backend
from pipeline.backends.local.engine import LocalBackend, ocr_lines
from pipeline.errors import BackendError, ConfigError
from pipeline.schema import ExtractContext, ParsedSchedule

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
ShowRow = tuple[str, str | None, str | None, str | None, str | None]


def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size=size)


def render(lines: Sequence[tuple[str, int, int, int]], size: tuple[int, int]) -> Image.Image:
    """Black text on white: each line is (text, x, y, font size)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for text, x, y, px in lines:
        draw.text((x, y), text, font=font(px, bold=px > 30), fill="black")
    return image


def show_rows(schedule: ParsedSchedule) -> list[ShowRow]:
    return [(s.venue_name, s.day, s.start_time, s.end_time, s.dj_name) for s in schedule.shows]


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    built = make_backend(LocalOptions(ocr_threads=1))
    assert isinstance(built, LocalBackend)
    return built


@pytest.mark.ocr
def test_lines_image(backend: LocalBackend) -> None:
    image = render(
        [
            ("9:41", 20, 10, 24),
            ("KARAOKE SCHEDULE", 30, 50, 36),
            ("Karaoke by Star Sound Entertainment", 30, 100, 24),
            ("MONDAY - The Rusty Nail - 9PM-1AM - DJ Mike", 30, 160, 26),
            ("Thu-Sat @ Oties Tavern & Grill 8pm-12am KJ Max", 30, 205, 26),
        ],
        (760, 260),
    )
    schedule = backend.extract(image).schedule
    assert show_rows(schedule) == [
        ("The Rusty Nail", "monday", "21:00", "01:00", "Mike"),
        ("Oties Tavern & Grill", "thursday", "20:00", "00:00", "Max"),
        ("Oties Tavern & Grill", "friday", "20:00", "00:00", "Max"),
        ("Oties Tavern & Grill", "saturday", "20:00", "00:00", "Max"),
    ]
    assert [v.name for v in schedule.vendors] == ["Star Sound Entertainment"]
    assert {s.vendor for s in schedule.shows} == {"Star Sound Entertainment"}


@pytest.mark.ocr
def test_table_image(backend: LocalBackend) -> None:
    rows = [
        ("Day", "Venue", "Time", "DJ"),
        ("Fridays", "Sand Bar Station", "9:00PM - 1:00AM", "DJ Dana"),
        ("Weekends", "Lucky Shamrock", "21:00-01:00", "Rob"),
    ]
    cells = [
        (text, x, 30 + 60 * r, 26)
        for r, row in enumerate(rows)
        for text, x in zip(row, (30, 220, 480, 720), strict=True)
    ]
    schedule = backend.extract(render(cells, (860, 220))).schedule
    assert show_rows(schedule) == [
        ("Sand Bar Station", "friday", "21:00", "01:00", "Dana"),
        ("Lucky Shamrock", "saturday", "21:00", "01:00", "Rob"),
        ("Lucky Shamrock", "sunday", "21:00", "01:00", "Rob"),
    ]


@pytest.mark.ocr
def test_flyer_image_with_address(backend: LocalBackend) -> None:
    centred = [("KARAOKE NIGHT", 44), ("EVERY THURSDAY", 40), ("9pm-close", 34), ("Kelley's Pub", 34),
               ("with DJ Jenny", 30), ("88 S State St, Westerville, OH 43081", 26)]  # fmt: skip
    lines, y = [], 30
    for text, px in centred:
        width = font(px, bold=px > 30).getbbox(text)[2]
        lines.append((text, (700 - int(width)) // 2, y, px))
        y += px + (50 if text == "KARAOKE NIGHT" else 16)
    schedule = backend.extract(render(lines, (700, y + 30))).schedule
    assert show_rows(schedule) == [("Kelley's Pub", "thursday", "21:00", None, "Jenny")]
    venue = schedule.venues[0]
    assert (venue.name, venue.address, venue.city, venue.state, venue.zip) == (
        "Kelley's Pub", "88 S State St", "Westerville", "OH", "43081"
    )  # fmt: skip


@pytest.mark.ocr
@pytest.mark.parametrize(
    "lines",
    [
        [],
        [
            ("Weekly Specials", 30, 30, 34),
            ("TUESDAY - Trivia Night - 7PM-9PM", 30, 90, 26),
            ("Happy Hour Mon-Fri 3-6PM", 30, 135, 26),
        ],
    ],
    ids=["blank", "specials"],
)
def test_images_without_karaoke_give_an_empty_schedule(
    backend: LocalBackend, lines: list[tuple[str, int, int, int]]
) -> None:
    answer = backend.extract(render(lines, (640, 200)))
    assert answer.schedule == ParsedSchedule() and answer.usage is None  # OCR is not metered


@pytest.mark.ocr
def test_context_vendor_credits_the_shows(backend: LocalBackend) -> None:
    image = render([("SUNDAYS - Blue Moon Saloon - 8PM - MIDNIGHT", 30, 40, 28)], (720, 110))
    schedule = backend.extract(image, ExtractContext(vendor="Sing It Loud Karaoke")).schedule
    assert show_rows(schedule) == [("Blue Moon Saloon", "sunday", "20:00", "00:00", None)]
    assert [s.vendor for s in schedule.shows] == ["Sing It Loud Karaoke"]
    assert [v.name for v in schedule.vendors] == ["Sing It Loud Karaoke"]


@pytest.mark.ocr
def test_engine_uses_the_configured_thread_count(backend: LocalBackend) -> None:
    backend.extract(render([("MONDAY", 10, 10, 24)], (200, 60)))
    detector_session = backend._engine.text_det.session.session
    assert detector_session.get_session_options().intra_op_num_threads == 1
    assert backend._engine.cfg.Global.use_cls is False


def test_ocr_output_becomes_axis_aligned_lines() -> None:
    corners = np.array([[[10, 20], [110, 20], [110, 50], [10, 50]]], dtype=np.float32)
    output = SimpleNamespace(txts=("9PM-2AM",), boxes=corners, scores=(0.93,))
    [line] = ocr_lines(output)
    assert (line.text, line.x0, line.y0, line.x1, line.y1) == ("9PM-2AM", 10, 20, 110, 50)
    assert line.score == pytest.approx(0.93)
    assert ocr_lines(SimpleNamespace(txts=None, boxes=None, scores=None)) == []


def test_tilted_photo_lines_are_straightened_into_rows() -> None:
    """Two boxes on one tilted text line (3 degrees) overlap as one row once straightened."""
    tilt = np.tan(np.radians(3))

    def box(x0: float, x1: float, y: float) -> list[list[float]]:
        return [[x0, y + x0 * tilt], [x1, y + x1 * tilt], [x1, y + 30 + x1 * tilt], [x0, y + 30 + x0 * tilt]]

    corners = np.array([box(10, 400, 100), box(600, 900, 100)], dtype=np.float32)
    first, second = ocr_lines(
        SimpleNamespace(txts=("MONDAY - Rusty Nail", "9PM-2AM"), boxes=corners, scores=None)
    )
    assert abs(first.y0 - second.y0) < 2 and abs((first.y1 - first.y0) - 30) < 2


def test_ocr_failure_becomes_an_upstream_backend_error(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(image: Image.Image) -> None:
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(backend, "_engine", broken)
    with pytest.raises(BackendError) as caught:
        backend.extract(Image.new("RGB", (10, 10)))
    assert caught.value.code == "upstream_error"
    assert "onnxruntime exploded" in caught.value.message


def test_missing_rapidocr_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    with pytest.raises(ConfigError, match=r"karaoke-pipeline\[local\]"):
        LocalBackend(LocalOptions())
