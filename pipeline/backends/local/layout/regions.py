"""Page regions by recursive XY-cut: columns of a card grid, cards, panes, each read on its own.

Rows built across a whole page merge what sits side by side: in a 3-column card
grid the three cards' headlines become one row. So the page is first cut where
whitespace runs through it, horizontally first. Horizontal cuts follow gaps taller than a couple of
text heights (between card rows, under a nav bar); vertical cuts follow empty
gutters wider than a text height. A region that holds no columns anywhere inside
stays whole (a flyer keeps its headline with its small print); a region with
columns is returned as its parts, in reading order (top to bottom, left to right).

A vertical cut is kept only when it separates schedules, not a table's columns:
each side must hold both a day and a time, or no schedule text at all (an
"About" pane beside the schedule). A Day | Time | Host table cut down the middle
leaves days on one side and times on the other, so it stays whole; a gutter that
runs through a header row (Day Time | Host) is kept only between whole tables. A card
whose day OCR lost (a time and lines of words) is still cut from a schedule beside it.
Inside a region, a gutter with no schedule text on either side (a company logo
beside a flyer's venue and address) splits it into text columns read one after
the other, so the logo's words do not join the venue's lines.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.words import is_header_text

__all__ = ["Region", "SideKind", "cut_regions"]

BAND_GAP = 1.6  # a horizontal gap this many text heights tall separates bands
TIGHT_BAND_GAP = 0.8  # ... or this many, when the wider gaps leave no columns to find
TITLE_GAP = 0.3  # a title this many text heights above columns may span their gutter
MAX_TITLE_ROWS = 2
GUTTER = 0.6  # a vertical gutter this many text heights wide may separate columns
COLUMN_GUTTER = 0.8  # ... and one this many of the region's own text heights splits text columns
MIN_BOXES = 2  # a column holds at least this many boxes

Region = tuple[list[OcrLine], ...]
"""One region's boxes as its text columns, left to right (usually one)."""
Soft = Callable[[OcrLine], bool]
"""Boxes that may sit across a gutter without closing it (a week view's day headers)."""
SideKind = Callable[[Sequence[OcrLine]], str]
"""What a set of boxes holds: 'schedule' (day and time), 'none' (neither), 'part' (one of them)
or 'card' (a time and lines of words, no day: a card whose day OCR lost)."""


def _text_height(boxes: Sequence[OcrLine]) -> float:
    return statistics.median(box.height for box in boxes)


def _bands(boxes: Sequence[OcrLine], min_gap: float) -> list[list[OcrLine]]:
    """Boxes cut into horizontal bands wherever no box spans a gap of at least ``min_gap``."""
    ordered = sorted(boxes, key=lambda box: box.y0)
    bands: list[list[OcrLine]] = [[ordered[0]]]
    bottom = ordered[0].y1
    for box in ordered[1:]:
        if box.y0 - bottom >= min_gap:
            bands.append([])
        bands[-1].append(box)
        bottom = max(bottom, box.y1)
    return bands


def _joined_tables(bands: list[list[OcrLine]], height: float) -> list[list[OcrLine]]:
    """Bands with a table's rows put back under its header row (tall rows leave wide gaps)."""
    joined: list[list[OcrLine]] = []
    columns: list[float] = []
    for band in bands:
        tolerance = 1.5 * height
        if columns and all(any(abs(box.x0 - x) <= tolerance for x in columns) for box in band):
            joined[-1] = joined[-1] + band
            continue
        joined.append(band)
        headers = [box.x0 for box in band if is_header_text(box.text)]
        columns = headers if len(headers) >= 2 else []
    return joined


def _gutters(boxes: Sequence[OcrLine], min_width: float) -> list[float]:
    """x positions (middles) of empty vertical gutters at least ``min_width`` wide, widest first."""
    ordered = sorted(boxes, key=lambda box: box.x0)
    found: list[tuple[float, float]] = []
    right = ordered[0].x1
    for box in ordered[1:]:
        if box.x0 - right >= min_width:
            found.append((box.x0 - right, (box.x0 + right) / 2))
        right = max(right, box.x1)
    return [middle for _, middle in sorted(found, reverse=True)]


def _centre(box: OcrLine) -> float:
    return (box.x0 + box.x1) / 2


def _vertical_split(
    boxes: Sequence[OcrLine],
    kind_of: SideKind,
    height: float,
    *,
    columns: bool = False,
    soft: Soft = lambda b: False,
) -> tuple[list[OcrLine], list[OcrLine]] | None:
    """The widest gutter that separates schedules (see the module docstring), if any.

    ``soft`` boxes (a week view's day headers, set close together) do not block a
    gutter, nor count as a table's column names ('MONDAY MON'); each goes to the side
    its centre is on.

    With ``columns``, the widest gutter with no schedule text on either side instead
    (a logo beside a flyer's small print).
    """
    width = COLUMN_GUTTER * _text_height(boxes) if columns else GUTTER * height
    hard = [box for box in boxes if columns or not soft(box)]

    def hard_of(side: list[OcrLine]) -> list[OcrLine]:  # a week view's day labels are not column names
        return [box for box in side if box in hard]

    for middle in _gutters(hard or boxes, width):
        left = [box for box in boxes if box.x1 <= middle or (box not in hard and _centre(box) < middle)]
        right = [box for box in boxes if box.x0 >= middle or (box not in hard and _centre(box) >= middle)]
        if len(left) + len(right) != len(boxes):
            continue
        if min(len(left), len(right)) < MIN_BOXES:
            continue
        kinds = {kind_of(left), kind_of(right)}
        if _cuts_a_header(hard_of(left), hard_of(right)) and kinds != {"schedule"}:
            continue
        if columns and kinds == {"none"}:
            return left, right
        if not columns and "part" not in kinds and "schedule" in kinds:
            return left, right
    return None


def _cuts_a_header(left: Sequence[OcrLine], right: Sequence[OcrLine]) -> bool:
    """True when column names on both sides share a row: the gutter runs through one table."""
    left_headers = [box for box in left if is_header_text(box.text)]
    for box in right:
        if is_header_text(box.text) and any(min(box.y1, h.y1) - max(box.y0, h.y0) > 0 for h in left_headers):
            return True
    return False


def _columns(boxes: list[OcrLine], kind_of: SideKind, height: float) -> Region:
    """A region's text columns left to right, split only where neither side holds schedule text."""
    split = _vertical_split(boxes, kind_of, height, columns=True)
    if split is None:
        return (boxes,)
    return _columns(split[0], kind_of, height) + _columns(split[1], kind_of, height)


def _cut(boxes: list[OcrLine], kind_of: SideKind, height: float, depth: int, soft: Soft) -> list[Region]:
    if depth > 12 or len(boxes) < 2 * MIN_BOXES:
        return [(boxes,)]
    bands = _joined_tables(_bands(boxes, BAND_GAP * height), height)
    if len(bands) == 1:
        split = _vertical_split(boxes, kind_of, height, soft=soft)
        if split is not None:
            return _cut(split[0], kind_of, height, depth + 1, soft) + _cut(
                split[1], kind_of, height, depth + 1, soft
            )
        titled = _title_over_columns(boxes, kind_of, height, depth, soft)
        if titled is not None:
            return titled
        bands = _joined_tables(_bands(boxes, TIGHT_BAND_GAP * height), height)  # a title close above
        if len(bands) == 1:
            return [_columns(boxes, kind_of, height)]
    parts = [_cut(band, kind_of, height, depth + 1, soft) for band in bands]
    if all(len(part) == 1 for part in parts):
        return [_joined_columns(parts)]
    return _rejoin_bands(parts)


def _title_over_columns(
    boxes: list[OcrLine], kind_of: SideKind, height: float, depth: int, soft: Soft
) -> list[Region] | None:
    """A title set close above columns, spanning their gutter ('Nov 8 - 14, 2026' over a week view).

    The top rows (at most ``MAX_TITLE_ROWS``) are read on their own when the rest
    splits into schedules without them; None when it does not. A table's header row
    is never such a title: its columns belong together.
    """
    rows = _bands(boxes, TITLE_GAP * height)
    for count in range(1, min(MAX_TITLE_ROWS, len(rows) - 1) + 1):
        title = [box for band in rows[:count] for box in band]
        if any(is_header_text(box.text) for box in title):
            return None
        body = [box for band in rows[count:] for box in band]
        split = _vertical_split(body, kind_of, height, soft=soft)
        if split is not None:
            left = _cut(split[0], kind_of, height, depth + 1, soft)
            return [(title,), *left, *_cut(split[1], kind_of, height, depth + 1, soft)]
    return None


def _joined_columns(parts: list[list[Region]]) -> Region:
    """Bands without columns read as one region: their text columns in order."""
    return tuple(column for part in parts for column in part[0])


def _rejoin_bands(parts: list[list[Region]]) -> list[Region]:
    """Bands in order; consecutive bands without columns are read together again."""
    regions: list[Region] = []
    single_run = False
    for part in parts:
        if len(part) == 1 and single_run:
            regions[-1] = regions[-1] + part[0]
        else:
            regions += part
        single_run = len(part) == 1
    return regions


def cut_regions(boxes: Sequence[OcrLine], kind_of: SideKind, soft: Soft = lambda box: False) -> list[Region]:
    """The page's regions in reading order, each as its text columns; a plain page is one region."""
    if not boxes:
        return []
    return _cut(list(boxes), kind_of, _text_height(boxes), 0, soft)
