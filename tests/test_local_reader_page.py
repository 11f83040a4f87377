"""The page reader's venue heading on hand-built OCR boxes: a title, not the text around it."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.layout.rows import group_rows
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Reading
from pipeline.backends.local.readers.page import venue_heading

REF = Reading(dt.date(2026, 11, 28))


def box(text: str, y: float, *, height: float = 24, x: float = 300) -> OcrLine:
    return OcrLine(text, x, y, x + 0.5 * height * len(text), y + height)


def heading_of(boxes: list[OcrLine]) -> str | None:
    return venue_heading(group_rows(boxes), REF).venue


def test_a_title_over_an_about_box_names_the_venue_not_the_description() -> None:
    about = [
        box("The Wagon Wheel", 100, height=52),
        box("About This Venue", 226, height=26),
        box("A neighbourhood bar with cold beer, friendly staff and one of the best", 268),
        box("systems in town.", 294),
        box("7872 Lakeshore Dr, Columbus, OH 43293", 330, height=20),
        box("Mondays 7:30PM - 11:30PM with DJ Chris B", 420),
    ]
    assert heading_of(about) == "The Wagon Wheel"


def test_a_name_right_over_its_street_still_wins_over_a_larger_brand_above() -> None:
    pane = [
        box("Sing Finder", 20, height=40),
        box("Oties Tavern & Grill", 120, height=34),
        box("2717 S Elm St, Tampa, FL 33672", 160, height=20),
        box("Fridays 9pm - 1am", 220),
    ]
    assert heading_of(pane) == "Oties Tavern & Grill"


def test_a_section_heading_right_over_the_street_loses_to_a_title_in_far_larger_type() -> None:
    page = [
        box("Spinnaker Grill", 100, height=52),
        box("Lakeview Brewery", 164, height=22),
        box("Visit Us", 200, height=24),
        box("498 E 5th Ave, Mesa, AZ 85287", 232, height=20),
        box("Fridays 7:30 PM - 11:30 PM", 300),
    ]
    assert heading_of(page) == "Spinnaker Grill"


def test_a_section_heading_over_running_text_is_not_the_name_over_the_street() -> None:
    """In capitals the title's OCR box is barely taller than a section heading's; the heading
    introduces a paragraph, so it is a section of the page, not its venue."""
    page = [
        box("LIBERTY ALE HOUSE", 100, height=37),
        box("Westgate - Dedicated", 160, height=26),
        box("About This Venue", 226, height=29),
        box("Locally owned since 1998. Big patio, pool tables and a full kitchen.", 267, height=26),
        box("7932 Oak Ave Ste 100, Mesa, AZ 85295", 305, height=24),
        box("Saturdays 6pm-9pm", 420),
    ]
    assert heading_of(page) == "LIBERTY ALE HOUSE"
