"""Day marks on hand-built OCR boxes: a week view's day headers, and the header above a card."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.day_marks import day_marks, mark_above
from pipeline.backends.local.readers.drafts import Reading

REF = Reading(dt.date(2026, 11, 28))


def box(text: str, x: float, y: float, width: float | None = None) -> OcrLine:
    return OcrLine(text, x, y, x + (width if width is not None else 14 * len(text)), y + 30)


HEADERS = [
    box("MONDAY", 40, 40),
    box("TUESDAY WEDNESDAY", 400, 40, width=500),  # OCR merged two neighbouring headers
    box("Sat 12/19", 1000, 40),
    box("Rusty Nail 9pm", 40, 100),  # a card: names a venue and a time, not a mark
]


def test_every_box_that_only_names_a_day_is_a_mark_and_a_merged_box_gives_one_per_word() -> None:
    marks = day_marks(HEADERS, REF)
    assert [(mark.fields.days, mark.fields.date) for mark in marks] == [
        (("monday",), None),
        (("tuesday",), None),
        (("wednesday",), None),
        (("saturday",), dt.date(2026, 12, 19)),
    ]
    assert marks[0].x == 82.0 and 400 < marks[1].x < marks[2].x < 900  # each word where it sits


def test_a_card_takes_the_day_of_the_header_above_it_inside_its_span() -> None:
    marks = day_marks(HEADERS, REF)

    def day_over(x0: float, x1: float, y0: float) -> object:
        fields = mark_above(marks, x0, x1, y0)
        return fields and (fields.days, fields.date)

    assert day_over(0, 300, 90) == (("monday",), None)
    assert day_over(600, 900, 90) == (("wednesday",), None)
    assert day_over(950, 1200, 90) == (("saturday",), dt.date(2026, 12, 19))
    assert day_over(0, 300, 30) is None  # nothing above the headers themselves
