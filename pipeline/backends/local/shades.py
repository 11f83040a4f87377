"""The colour around each OCR box, read from the image: what a page marks by colour alone.

A listing app marks its selected day tab by a filled pill and nothing else; OCR
reads the same three letters on every tab. The colour along each box's top and
bottom edges (just inside and a little outside them, where no glyph reaches) is the
page's background for a plain tab and the pill's fill for the selected one. Read once per image, after OCR;
the parser works without it (then a tab marked by colour alone is not read).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pipeline.backends.local.lines import OcrLine

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["colour_distance", "with_backgrounds"]

_RING = 0.1  # strips are sampled this many box heights above and below the box, and just inside it
_STEP = 4  # every this many pixels along a strip


def _strip(rgb: Image, x0: int, x1: int, y: int) -> list[tuple[int, int, int]]:
    if not 0 <= y < rgb.height:
        return []
    left, right = max(x0, 0), min(x1, rgb.width)
    return [rgb.getpixel((x, y)) for x in range(left, right, _STEP)]  # type: ignore[misc]


def _background(rgb: Image, line: OcrLine) -> tuple[int, int, int] | None:
    pad = max(round(_RING * line.height), 2)
    x0, x1, top, bottom = round(line.x0), round(line.x1), round(line.y0), round(line.y1)
    rows = (top - pad, top + 1, bottom - 2, bottom + pad)  # OCR pads its boxes: the edge rows are background
    pixels = [pixel for y in rows for pixel in _strip(rgb, x0, x1, y)]
    if not pixels:
        return None
    return (
        round(statistics.median(p[0] for p in pixels)),
        round(statistics.median(p[1] for p in pixels)),
        round(statistics.median(p[2] for p in pixels)),
    )


def with_backgrounds(image: Image, lines: Sequence[OcrLine]) -> list[OcrLine]:
    """``lines`` with the colour around each box (boxes in ``image``'s own pixels)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return [replace(line, background=_background(rgb, line)) for line in lines]


def colour_distance(first: tuple[int, int, int], second: tuple[int, int, int]) -> int:
    """How far apart two colours are: the largest difference of one channel."""
    return max(abs(a - b) for a, b in zip(first, second, strict=True))
