"""A venue pane's own table (Day | Time | Host): rows rebuilt around their day cells.

A pane, modal or card names its venue once, as its title, and lists the nights
in a small table under it. Its cells wrap ('9:00 PM' / '- 1:00' / 'AM') inside
a row that is taller than one line, so rows are not read as visual lines: each
box in the day column that names a day starts a row, and every other box joins
the row whose day cell is nearest to it vertically, in its own column, top to
bottom.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.layout.rows import Row
from pipeline.backends.local.layout.tables import Column, box_column
from pipeline.backends.local.lines import OcrLine
from pipeline.dates import find_date, find_day_phrases

__all__ = ["PaneRow", "pane_rows"]

_EPOCH = dt.date(2000, 1, 1)  # any date: only whether a date is present matters


@dataclass(frozen=True)
class PaneRow:
    """One table row: text per column kind, and the lowest OCR score of its boxes."""

    cells: dict[str, str]
    score: float


def _names_day(text: str) -> bool:
    return bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None


def pane_rows(body: Sequence[Row], columns: Sequence[Column]) -> list[PaneRow]:
    """Rows of the table under a header; boxes above the first day cell are left out."""
    boxes = sorted((box for row in body for box in row.boxes), key=lambda box: box.y0)
    kinds = [column.kind for column in columns]
    if "day" not in kinds or not boxes:
        return []
    day_index = kinds.index("day")
    anchors = [box for box in boxes if box_column(box, columns, True) == day_index and _names_day(box.text)]
    if not anchors:
        return []
    members: list[list[OcrLine]] = [[anchor] for anchor in anchors]
    pitch = _pitch(anchors)
    for box in boxes:
        if box in anchors:
            continue
        middle = (box.y0 + box.y1) / 2
        nearest = min(range(len(anchors)), key=lambda i: abs(_middle(anchors[i]) - middle))
        if abs(_middle(anchors[nearest]) - middle) <= 0.75 * pitch:
            members[nearest].append(box)
    return [_row(group, columns) for group in members]


def _middle(box: OcrLine) -> float:
    return (box.y0 + box.y1) / 2


def _pitch(anchors: Sequence[OcrLine]) -> float:
    """Distance between rows; a single row gets three of its text heights."""
    gaps = sorted(_middle(b) - _middle(a) for a, b in itertools.pairwise(anchors))
    return gaps[len(gaps) // 2] if gaps else 3 * anchors[0].height


def _row(group: Sequence[OcrLine], columns: Sequence[Column]) -> PaneRow:
    cells: dict[str, list[str]] = {}
    for box in sorted(group, key=lambda box: (box.y0, box.x0)):
        cells.setdefault(columns[box_column(box, columns, True)].kind, []).append(box.text.strip())
    return PaneRow({kind: " ".join(texts) for kind, texts in cells.items()}, min(box.score for box in group))
