"""Preprocessing for OCR: upscale small images, cut very tall captures into overlapping tiles.

The text detector reads best when text is some 15-40 px tall. A flyer forwarded
at 400-600 px has small print of a few pixels, and a full-page capture 5,000+ px
tall is shrunk to fit the detector's longest side until its text vanishes. So a
small image is enlarged before detection, and a tall one is read tile by tile at
its own scale; each tile keeps only the boxes centred in the band it owns (its
overlap shared half and half with each neighbour), so no line is read twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.lines import OcrLine

__all__ = ["Tile", "merge_tiles", "plan_tiles", "upscale_factor"]

SMALL_WIDTH = 580  # an image narrower than this ...
SMALL_SIDE = 1000  # ... and shorter than this on its long side is enlarged
UPSCALED_WIDTH = 1000  # ... to about this width
MAX_UPSCALE = 2.0
TALL_RATIO = 2.0  # height / width above which a capture may be tiled
OVERLAP = 0.12  # share of a tile's height repeated in the next tile (more than a headline)


@dataclass(frozen=True)
class Tile:
    """A horizontal band of the image, and the part of it whose boxes it keeps."""

    top: int
    bottom: int
    keep_from: float
    keep_to: float


def upscale_factor(width: int, height: int) -> float:
    """How much to enlarge an image before OCR: >1 for narrow, small images, else 1.

    A flyer forwarded from a phone is some 400-580 px wide; a screenshot of that
    width or more carries text large enough to read as it is (and enlarging costs
    OCR time in proportion).
    """
    if width >= SMALL_WIDTH or max(width, height) >= SMALL_SIDE or width <= 0:
        return 1.0
    return min(MAX_UPSCALE, UPSCALED_WIDTH / width)


def plan_tiles(width: int, height: int, max_side: int) -> list[Tile]:
    """Bands of a tall capture, each at most ``max_side`` tall; one band for ordinary images."""
    if height <= 1.5 * max_side or height <= TALL_RATIO * width:
        return [Tile(0, height, 0.0, float(height))]
    band = min(max_side, max(width, 1000))
    overlap = round(band * OVERLAP)
    count = math.ceil((height - overlap) / (band - overlap))
    step = (height - band) / max(count - 1, 1)
    tops = [round(index * step) for index in range(count)]
    tiles: list[Tile] = []
    for index, top in enumerate(tops):
        bottom = min(top + band, height)
        keep_from = 0.0 if index == 0 else (top + tiles[-1].bottom) / 2
        keep_to = float(height) if index == count - 1 else (bottom + tops[index + 1]) / 2
        tiles.append(Tile(top, bottom, keep_from, keep_to))
    return tiles


def merge_tiles(tiles: Sequence[Tile], boxes: Sequence[Sequence[OcrLine]]) -> list[OcrLine]:
    """Boxes of all tiles (already in image coordinates), each line once."""
    merged: list[OcrLine] = []
    for tile, tile_boxes in zip(tiles, boxes, strict=True):
        merged += [box for box in tile_boxes if tile.keep_from <= (box.y0 + box.y1) / 2 < tile.keep_to]
    return merged
