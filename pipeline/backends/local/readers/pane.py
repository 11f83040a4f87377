"""A venue pane's own table (Day | Time | Host): rows rebuilt around their day cells.

A pane, modal or card names its venue once, as its title, and lists the nights
in a small table under it. Its cells wrap ('9:00 PM' / '- 1:00' / 'AM') inside
a row that is taller than one line, so rows are not read as visual lines: each
box in the day column that names a day starts a row, and every other box joins
the row whose day cell is nearest to it vertically, in its own column, top to
bottom. The pane reader takes a region whose rows hold a header row naming a day
and a time column but no venue column; the region's title is the venue.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.backends.local.layout.rows import Row
from pipeline.backends.local.layout.tables import Column, box_column
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Draft, Page, Reading
from pipeline.backends.local.readers.page import venue_heading
from pipeline.backends.local.tagging.fields import strip_dj_prefix
from pipeline.backends.local.tagging.words import names_day
from pipeline.clean import normalize_time_range

__all__ = ["PaneRow", "pane_drafts", "pane_rows"]


@dataclass(frozen=True)
class PaneRow:
    """One table row: text per column kind, and the lowest OCR score of its boxes."""

    cells: dict[str, str]
    score: float


def pane_rows(body: Sequence[Row], columns: Sequence[Column]) -> list[PaneRow]:
    """Rows of the table under a header; boxes above the first day cell are left out."""
    boxes = sorted((box for row in body for box in row.boxes), key=lambda box: box.y0)
    kinds = [column.kind for column in columns]
    if "day" not in kinds or not boxes:
        return []
    day_index = kinds.index("day")
    anchors = [box for box in boxes if box_column(box, columns, True) == day_index and names_day(box.text)]
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


def pane_drafts(
    rows: Sequence[Row], header: tuple[int, list[Column]], page: Page, ref: Reading
) -> list[Draft]:
    """A pane's Day / Time / Host table: its title (and address) carried down to every row."""
    index, columns = header
    title = venue_heading(rows[:index], ref)
    venue = title.venue or page.venue
    if venue is None:
        return []
    drafts: list[Draft] = []
    for pane_row in pane_rows(rows[index + 1 :], columns):
        cells = pane_row.cells
        day = ref.fields(cells.get("day", ""))
        time = normalize_time_range(cells.get("time", ""))
        dj_text = cells.get("dj", "").strip()
        if not day.has_days or time is None:
            continue  # a hint such as 'Also every day' under the table
        fields = replace(
            title,
            days=day.days,
            date=day.date,
            time=time,
            dj=strip_dj_prefix(dj_text) if dj_text else None,
            dj_as_seen=dj_text or None,
            venue=venue,
            notes=day.notes,
        )
        drafts.append(Draft(fields, pane_row.score))
    return drafts
