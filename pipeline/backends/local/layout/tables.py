"""Table geometry: header rows, columns, and cutting rows into cells.

A table is found by its header row (Day | Venue | Time | DJ ...) and every later
box is cut into that header's columns, word by word when OCR merged neighbouring
cells into one box; rows whose cells wrap are joined first.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.layout.rows import Row
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.words import (
    GRID_DAY,
    HEADER_FILLER,
    HEADER_WORDS,
    WEEKDAY_HEADERS,
    names_day,
)
from pipeline.backends.local.tagging.wraps import ends_open
from pipeline.clean import normalize_time_range

__all__ = [
    "Column",
    "box_column",
    "find_table_header",
    "table_cells",
    "words_of",
    "wrapped_cells_joined",
]

_CELL_WRAP_GAP = 0.5  # gap / line height below which a table row continues the one above


@dataclass(frozen=True)
class Column:
    """One table column: what it holds (day, venue, time, dj, address, city) and its header span."""

    kind: str
    x0: float
    x1: float


@dataclass(frozen=True)
class _Piece:
    """A box or a word cut out of a merged box, with its estimated span."""

    text: str
    x0: float
    x1: float


def _char_width(char: str) -> float:
    """Rough width of a character in a proportional font, relative to a lower-case letter."""
    if char in " il.,:;'|!()[]":
        return 0.5
    if char in "MWmw@%":
        return 1.5
    return 1.25 if char.isupper() or char.isdigit() else 1.0


def words_of(box: OcrLine) -> list[_Piece]:
    """The words of a box, placed by their share of its width (OCR gives no word boxes)."""
    offsets = [0.0]
    for char in box.text:
        offsets.append(offsets[-1] + _char_width(char))
    scale = (box.x1 - box.x0) / max(offsets[-1], 1.0)
    return [
        _Piece(m.group(0), box.x0 + offsets[m.start()] * scale, box.x0 + offsets[m.end()] * scale)
        for m in re.finditer(r"\S+", box.text)
    ]


def _header_columns(row: Row, *, need_venue: bool = True) -> list[Column] | None:
    """Columns named by a header row, or None when the row is not a header.

    Without ``need_venue`` a venue pane's own table (Day | Time | Host) counts too.
    """
    columns: list[Column] = []
    words = [piece for box in row.boxes for piece in words_of(box)]
    for piece in words:
        word = piece.text.lower().strip(":|.")
        kind = HEADER_WORDS.get(word) or WEEKDAY_HEADERS.get(word)
        if kind is not None and not any(c.kind == kind for c in columns):
            columns.append(Column(kind, piece.x0, piece.x1))
        elif kind is None and piece.text.lower() not in HEADER_FILLER:
            return None
    kinds = {c.kind for c in columns}
    grid = sum(kind.startswith(GRID_DAY) for kind in kinds) >= 2
    if not need_venue:
        return columns if {"day", "time"} <= kinds and "venue" not in kinds else None
    if len(columns) < 3 or not kinds & {"venue"} or not (kinds & {"day", "time"} or grid):
        return None
    return columns


def find_table_header(rows: Sequence[Row], *, need_venue: bool = True) -> tuple[int, list[Column]] | None:
    """Index and columns of the first header row, if the page (or a pane) is a table."""
    for index, row in enumerate(rows):
        columns = _header_columns(row, need_venue=need_venue)
        if columns is not None:
            return index, columns
    return None


def _left_aligned(rows: Sequence[Row], columns: Sequence[Column]) -> bool:
    """True when most cells start where their header starts (else cells are centred)."""
    tolerance = 0.6 * statistics.median(row.height for row in rows)
    boxes = [box for row in rows for box in row.boxes]
    starts = sum(any(abs(box.x0 - c.x0) <= tolerance for c in columns) for box in boxes)
    return starts >= 0.5 * len(boxes)


def box_column(box: OcrLine, columns: Sequence[Column], left: bool) -> int:
    """Column of a whole box: OCR breaks boxes at column gaps, so a box starts a cell."""
    if left:
        return min(range(len(columns)), key=lambda i: abs(columns[i].x0 - box.x0))
    middle = (box.x0 + box.x1) / 2
    return min(range(len(columns)), key=lambda i: abs((columns[i].x0 + columns[i].x1) / 2 - middle))


def _word_column(word: _Piece, columns: Sequence[Column], first: int, tolerance: float) -> int:
    """Column of a word cut from a merged box: the last column it starts after."""
    index = first
    for i in range(first + 1, len(columns)):
        if word.x0 >= columns[i].x0 - tolerance:
            index = i
    return index


def wrapped_cells_joined(body: Sequence[Row]) -> list[Row]:
    """Table rows whose cells wrap ('The Tipsy' / 'Crow', '7:30PM -' / '11:30PM') read as one row.

    Lines of one cell sit close together: a row that follows the one above at less
    than half a line's height continues it when the row above leaves a range open
    ('7:30PM -') or the row below holds no time of its own ('Spur Saloon'), and it
    names no day (a day row over the rows of that day).
    """
    joined: list[Row] = []
    for row in body:
        near = joined and _CELL_WRAP_GAP * row.height > row.y0 - joined[-1].y1 and not names_day(row.text)
        if near and (ends_open(joined[-1].text) or normalize_time_range(row.text) is None):
            above = joined[-1]
            boxes = tuple(sorted(above.boxes + row.boxes, key=lambda box: (box.y0, box.x0)))
            joined[-1] = Row(boxes, f"{above.text} {row.text}")
        else:
            joined.append(row)
    return joined


def table_cells(row: Row, columns: Sequence[Column], body: Sequence[Row]) -> dict[str, str]:
    """The text of ``row`` per column kind; boxes spanning several columns are cut word by word."""
    left = _left_aligned(body, columns)
    tolerance = 0.75 * row.height
    cells: dict[str, list[str]] = {}
    for box in row.boxes:
        first = box_column(box, columns, left)
        spans_next = first + 1 < len(columns) and box.x1 > columns[first + 1].x0 + tolerance
        if not spans_next:
            cells.setdefault(columns[first].kind, []).append(box.text.strip())
            continue
        for word in words_of(box):
            cells.setdefault(columns[_word_column(word, columns, first, tolerance)].kind, []).append(
                word.text
            )
    return {kind: " ".join(texts) for kind, texts in cells.items()}
