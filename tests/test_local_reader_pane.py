"""The pane reader on hand-built OCR boxes: a venue's title over its own Day | Time | Host table."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.layout.rows import group_rows
from pipeline.backends.local.layout.tables import find_table_header
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Page, Reading
from pipeline.backends.local.readers.pane import pane_drafts, pane_rows

REF = Reading(dt.date(2026, 11, 28))
PAGE = Page(vendor=None, karaoke=True, venue=None)


def box(text: str, x: float, y: float) -> OcrLine:
    return OcrLine(text, x, y, x + 14 * len(text), y + 30)


PANE = [
    box("Oties Tavern & Grill", 40, 40),
    box("123 Main St, Columbus, OH 43215", 40, 80),
    *(box("Day", 40, 160), box("Time", 300, 160), box("Host", 600, 160)),
    *(box("Tuesday", 40, 220), box("9:00 PM", 300, 220), box("DJ Mike", 600, 220)),
    box("- 1:00 AM", 300, 252),  # the time cell wraps inside its row
    *(box("Friday", 40, 320), box("8 PM", 300, 320), box("Max", 600, 320)),
    box("Also every day", 40, 400),  # a hint under the table
]


def test_rows_are_rebuilt_around_their_day_cells() -> None:
    rows = group_rows(PANE)
    header = find_table_header(rows, need_venue=False)
    assert header is not None and header[0] == 2
    assert [row.cells for row in pane_rows(rows[header[0] + 1 :], header[1])] == [
        {"day": "Tuesday", "time": "9:00 PM - 1:00 AM", "dj": "DJ Mike"},
        {"day": "Friday", "time": "8 PM", "dj": "Max"},
        {"day": "Also every day"},  # a row of its own, which the reader drops: no time
    ]


def test_the_title_and_its_address_name_every_row() -> None:
    rows = group_rows(PANE)
    header = find_table_header(rows, need_venue=False)
    assert header is not None
    drafts = pane_drafts(rows, header, PAGE, REF)
    assert [
        (d.fields.venue, d.fields.days, d.fields.time and d.fields.time.text, d.fields.dj) for d in drafts
    ] == [
        ("Oties Tavern & Grill", ("tuesday",), "9:00 PM - 1:00 AM", "Mike"),
        ("Oties Tavern & Grill", ("friday",), "8 PM", "Max"),
    ]
    assert {d.fields.address.street if d.fields.address else None for d in drafts} == {"123 Main St"}


def test_a_pane_without_a_title_or_page_venue_gives_nothing() -> None:
    rows = group_rows(PANE[2:])
    header = find_table_header(rows, need_venue=False)
    assert header is not None
    assert pane_drafts(rows, header, PAGE, REF) == []
