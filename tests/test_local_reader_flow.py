"""The flow reader on hand-built OCR boxes: day lines start shows, the lines around them complete them."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.layout.rows import group_rows
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Draft, Page, Reading
from pipeline.backends.local.readers.flow import flow_drafts

REF = Reading(dt.date(2026, 11, 28))
PAGE = Page(vendor=None, karaoke=True, venue=None)


def box(text: str, y: float, x: float = 40) -> OcrLine:
    return OcrLine(text, x, y, x + 14 * len(text), y + 30)


def summary(draft: Draft) -> tuple[object, ...]:
    fields = draft.fields
    return (
        fields.venue,
        fields.days,
        fields.time.text if fields.time else None,
        fields.dj,
        draft.borrowed_venue,
    )


def test_each_block_under_a_day_line_is_a_show_and_a_cancelled_one_is_not() -> None:
    rows = group_rows(
        [
            box("Karaoke Nights", 40),  # a title: never part of a show
            *(
                box("MONDAY", 120),
                box("The Rusty Nail", 160),
                box("9pm - 1am", 200),
                box("with KJ Mike", 240),
            ),
            *(box("FRIDAY", 340), box("Harbor House", 380), box("CANCELLED", 380, x=300), box("8pm", 420)),
            *(box("SATURDAY", 520), box("Sand Bar", 560), box("10pm", 600)),
        ]
    )
    assert [summary(draft) for draft in flow_drafts(rows, PAGE, REF)] == [
        ("The Rusty Nail", ("monday",), "9pm - 1am", "Mike", False),
        ("Sand Bar", ("saturday",), "10pm", None, False),
    ]


def test_a_venue_heading_over_the_page_names_the_shows_without_one() -> None:
    rows = group_rows([box("MONDAY 9pm", 120), box("FRIDAY 8pm", 280)])
    heading = Page(vendor=None, karaoke=True, venue="Oties Tavern")
    assert [summary(draft) for draft in flow_drafts(rows, heading, REF)] == [
        ("Oties Tavern", ("monday",), "9pm", None, True),
        ("Oties Tavern", ("friday",), "8pm", None, True),
    ]


def test_a_paragraph_is_cut_into_one_show_per_clause() -> None:
    rows = group_rows([box("Join us Monday 9pm at The Rusty Nail, then Friday 8pm at Harbor House!", 120)])
    assert [summary(draft) for draft in flow_drafts(rows, PAGE, REF)] == [
        ("The Rusty Nail", ("monday",), "9pm", None, False),
        ("Harbor House", ("friday",), "8pm", None, False),
    ]


def test_a_card_under_a_day_header_takes_its_day() -> None:
    above = [
        Draft(
            flow_drafts(group_rows([box("TUESDAY", 40), box("Sand Bar 9pm", 80)]), PAGE, REF)[0].fields, 1.0
        )
    ]
    rows = group_rows([box("Harbor House", 200), box("8pm", 240)])
    assert [summary(draft) for draft in flow_drafts(rows, PAGE, REF, above)] == [
        ("Harbor House", ("tuesday",), "8pm", None, False)
    ]
