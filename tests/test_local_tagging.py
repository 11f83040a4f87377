"""The tagging stage on hand-built OCR lines: what it drops, what it undoes, how it tags each line."""

from __future__ import annotations

import pytest

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.tags import LineTags, is_day_label, tag_page
from pipeline.backends.local.tagging.words import is_header_text, is_other_event, names_day


def line(text: str, y: float, x: float = 10, width: float | None = None) -> OcrLine:
    return OcrLine(text, x, y, x + (width if width is not None else 14 * len(text)), y + 25)


PAGE = [
    line("9:41", 5),  # the phone's clock, in the top row
    line("Karaoke Nights", 50),
    line("Home", 100),
    line("Accept all cookies", 140),
    line("MONDAY", 200),
    line("9:OOPM - 1AM", 240),  # OCR read the zeros as letters
    line("Trivia Tuesdays 8pm", 280),
    line("12 likes", 320),
    line("10:00", 360),  # a table cell's time that wrapped, lower down
    line("Sports Bar", 400, width=140),
    line("Food", 400, x=160, width=60),  # a chip in the row of a known tag
]


def test_noise_and_tag_chips_are_dropped_and_ocr_slips_undone() -> None:
    tagged = tag_page(PAGE)
    assert [kept.text for kept in tagged.lines] == [
        "Karaoke Nights",
        "Home",
        "Accept all cookies",
        "MONDAY",
        "9:00PM - 1AM",
        "Trivia Tuesdays 8pm",
        "10:00",
        "Sports Bar",
    ]


def test_each_line_is_tagged_once() -> None:
    tagged = tag_page(PAGE)
    tags = {kept.text: tagged.tags[kept] for kept in tagged.lines}
    assert tags["Karaoke Nights"] == LineTags(
        chrome=False, overlay=False, day=False, time=False, day_label=False, karaoke=True, other_event=False
    )
    assert tags["Home"].chrome and not tags["Home"].overlay
    assert tags["Accept all cookies"].chrome and tags["Accept all cookies"].overlay
    assert tags["MONDAY"].day and tags["MONDAY"].day_label and not tags["MONDAY"].time
    assert tags["9:00PM - 1AM"].time and not tags["9:00PM - 1AM"].day
    trivia = tags["Trivia Tuesdays 8pm"]
    assert trivia.day and trivia.time and trivia.other_event and not trivia.day_label
    assert tags["Sports Bar"].chrome


def test_the_views_later_stages_take() -> None:
    tagged = tag_page(PAGE)
    assert tagged.karaoke
    assert [kept.text for kept in tagged.content] == [
        "Karaoke Nights",
        "MONDAY",
        "9:00PM - 1AM",
        "Trivia Tuesdays 8pm",
        "10:00",
    ]  # chrome never reaches the rows
    assert "Home" in [kept.text for kept in tagged.geometry]  # chrome still shapes the regions
    assert "Accept all cookies" not in [kept.text for kept in tagged.geometry]  # an overlay does not


def test_a_page_that_never_says_karaoke() -> None:
    assert not tag_page([line("Trivia Tuesdays 8pm", 40), line("The Rusty Nail", 80)]).karaoke


def test_karaoke_in_chrome_still_counts_for_the_page() -> None:
    tagged = tag_page([line("Karaoke", 40), line("MONDAY 9pm The Rusty Nail", 80)])
    assert tagged.tags[tagged.lines[0]].karaoke and tagged.karaoke


@pytest.mark.parametrize(
    ("text", "expected"),
    [("MONDAY", True), ("Sat 6/27", True), ("12/16", True), ("Every Friday", True), ("Rusty Nail", False)],
)
def test_names_day(text: str, expected: bool) -> None:
    assert names_day(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("WEDNESDAY WED", True), ("12/16", True), ("Monday 9pm", False), ("Monday Madness", False)],
)
def test_a_day_label_names_only_a_day(text: str, expected: bool) -> None:
    assert is_day_label(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Trivia Tuesdays 8pm", True),
        ("Happy Hour 4-6", True),
        ("$5 pitchers", True),
        ("Karaoke and wings", False),  # karaoke wins
        ("KJ Mike 9pm", False),
    ],
)
def test_another_event_and_not_karaoke(text: str, expected: bool) -> None:
    assert is_other_event(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"), [("Day", True), ("Venue Name", True), ("Host:", True), ("The Day Spa", False)]
)
def test_column_names(text: str, expected: bool) -> None:
    assert is_header_text(text) is expected
