"""The table reader on hand-built OCR boxes: a Day | Venue | Time | DJ table and a weekly grid."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.layout.rows import group_rows
from pipeline.backends.local.layout.tables import find_table_header
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Draft, Reading
from pipeline.backends.local.readers.table import table_drafts

REF = Reading(dt.date(2026, 11, 28))


def box(text: str, x: float, y: float) -> OcrLine:
    return OcrLine(text, x, y, x + 14 * len(text), y + 30)


def read(boxes: list[OcrLine]) -> list[Draft]:
    rows = group_rows(boxes)
    header = find_table_header(rows)
    assert header is not None
    return table_drafts(rows, header[0], header[1], REF)


def summary(draft: Draft) -> tuple[object, ...]:
    fields = draft.fields
    return (
        fields.venue,
        fields.days,
        fields.time.text if fields.time else None,
        fields.dj,
        draft.karaoke_line,
    )


def test_each_row_is_a_show_a_day_row_gives_its_day_and_other_events_are_left_out() -> None:
    drafts = read(
        [
            *(box("Day", 40, 40), box("Venue", 300, 40), box("Time", 600, 40), box("DJ", 800, 40)),
            *(box("Monday", 40, 100), box("The Rusty Nail", 300, 100), box("9PM-1AM", 600, 100)),
            box("KJ Mike", 800, 100),
            *(box("Tuesday", 40, 160), box("Trivia at Sand Bar", 300, 160), box("8PM", 600, 160)),
            box("FRIDAY", 40, 220),  # a day row over the rows of that day
            *(box("Harbor House", 300, 280), box("9PM", 600, 280), box("Max", 800, 280)),
        ]
    )
    assert [summary(draft) for draft in drafts] == [
        ("The Rusty Nail", ("monday",), "9PM-1AM", "Mike", True),  # 'KJ' says karaoke
        ("Harbor House", ("friday",), "9PM", "Max", False),
    ]


def test_a_weekly_grid_gives_one_show_per_weekday_cell_with_a_time() -> None:
    drafts = read(
        [
            *(box("Venue", 40, 40), box("Mon", 300, 40), box("Tue", 450, 40), box("Wed", 600, 40)),
            *(box("The Rusty Nail", 40, 100), box("9PM", 300, 100), box("8PM", 600, 100)),
            *(box("Bingo Hall", 40, 160), box("7PM", 450, 160)),  # another event: not a show
        ]
    )
    assert [summary(draft) for draft in drafts] == [
        ("The Rusty Nail", ("monday",), "9PM", None, True),
        ("The Rusty Nail", ("wednesday",), "8PM", None, True),
    ]
