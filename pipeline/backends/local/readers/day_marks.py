"""Day headers of a week view, placed on the page, for the cards under them.

A week view names each day once, at the top of its column ('WEDNESDAY Wed
12/16'), and lists that day's cards below. When the columns' cards end up in
regions of their own (or OCR merged two neighbouring headers into one box), each
card region takes the day of the nearest header above it whose x position falls
inside the region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.layout.tables import words_of
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Reading
from pipeline.backends.local.tagging.fields import LineFields
from pipeline.dates import find_day_phrases

__all__ = ["DayMark", "day_marks", "mark_above"]


@dataclass(frozen=True)
class DayMark:
    """A day (or date) header and where it sits."""

    x: float
    y: float
    height: float
    fields: LineFields


def _mark(text: str, x: float, box: OcrLine, ref: Reading) -> DayMark | None:
    fields = ref.fields(text)
    if not fields.has_days or fields.time or fields.venue:
        return None
    return DayMark(x, box.y0, box.height, fields)


def day_marks(boxes: Sequence[OcrLine], ref: Reading) -> list[DayMark]:
    """Every box that only names a day or a date; a box naming two days gives a mark per word."""
    marks: list[DayMark] = []
    for box in boxes:
        if len(find_day_phrases(box.text)) > 2 or len({*ref.fields(box.text).days}) > 1:
            pieces = [(piece.text, (piece.x0 + piece.x1) / 2) for piece in words_of(box)]
        else:
            pieces = [(box.text, (box.x0 + box.x1) / 2)]
        for text, x in pieces:
            mark = _mark(text, x, box, ref)
            if mark is not None:
                marks.append(mark)
    return marks


def mark_above(marks: Sequence[DayMark], x0: float, x1: float, y0: float) -> LineFields | None:
    """The day of the lowest header above ``y0`` inside ``x0..x1``; a date beats a bare weekday."""
    inside = [mark for mark in marks if x0 <= mark.x <= x1 and mark.y < y0]
    if not inside:
        return None
    lowest = max(inside, key=lambda mark: mark.y)
    near = [mark for mark in inside if lowest.y - mark.y <= 3 * lowest.height]  # a header over its date
    dated = [mark for mark in near if mark.fields.date is not None]
    return (dated or near)[-1].fields
