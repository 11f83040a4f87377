"""Dates without a year: the year whose weekday matches, nearest the reference day; page years."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.backends.local.tagging.fields import read_fields
from pipeline.dates import (
    find_date,
    find_page_year,
    parse_date,
    stray_marks_dropped,
    unglue_days,
    zeros_in_clocks,
)


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        # the bug: processed in December, a June Saturday of this year, not next June
        ("SATURDAY Sat 6/27", dt.date(2026, 12, 1), dt.date(2026, 6, 27)),
        ("Fri Dec 12", dt.date(2026, 11, 28), dt.date(2025, 12, 12)),  # a year back beats 2031
        ("Sat Dec 12", dt.date(2026, 11, 28), dt.date(2026, 12, 12)),
        ("Jan 5", dt.date(2026, 12, 20), dt.date(2027, 1, 5)),  # no weekday: nearest either way
        ("Oct 2", dt.date(2026, 12, 20), dt.date(2026, 10, 2)),  # a past date this year
    ],
)
def test_a_date_without_a_year_is_the_nearest_on_its_weekday(
    text: str, reference: dt.date, expected: dt.date
) -> None:
    assert parse_date(text, reference) == expected


def test_a_year_printed_on_the_page_wins_over_the_reference_day() -> None:
    found = find_date("Sat 6/27", dt.date(2031, 1, 1), anchor_year=2026)
    assert found is not None and found.date == dt.date(2026, 6, 27)


def test_an_anchor_year_whose_weekday_disagrees_falls_back_to_the_nearest_match() -> None:
    found = find_date("Fri 6/27", dt.date(2026, 12, 1), anchor_year=2026)  # 2026-06-27 is a Saturday
    assert found is not None and found.date.weekday() == 4 and found.weekday == "friday"


def test_the_shown_weekday_is_never_overwritten() -> None:
    fields = read_fields("Fri June 27, 2026 9pm The Rusty Nail", dt.date(2026, 1, 1))  # a Saturday
    assert fields.days == ("friday",)
    fields = read_fields("SATURDAY Sat 6/27 9PM", dt.date(2026, 12, 1))
    assert fields.days == ("saturday",) and fields.date == dt.date(2026, 6, 27)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Jun 7 - 13, 2026", "SATURDAY Sat 6/27"], 2026),
        (["June 2027 schedule", "6/27/2027", "Dec 1, 2026"], 2027),
        (["Call 614-555-2026", "Est. 1999"], None),
    ],
)
def test_find_page_year(texts: list[str], expected: int | None) -> None:
    assert find_page_year(texts) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MONDAYS KARAOKE 8:3OPM -", "MONDAYS KARAOKE 8:30PM -"),
        ("1OPM - 2AM", "10PM - 2AM"),
        ("9:OOPM - CLOSE", "9:00PM - CLOSE"),
        ("12:3OAM HOSTED BY MARCO", "12:30AM HOSTED BY MARCO"),
        ("ROOM 10", "ROOM 10"),
        ("2OO1 Main St", "2OO1 Main St"),  # no meridiem, no colon: not a time
        ("Room 1O", "Room 1O"),
    ],
)
def test_zeros_ocr_read_as_the_letter_o_inside_a_time_are_digits_again(text: str, expected: str) -> None:
    assert zeros_in_clocks(text) == expected


def test_words_and_a_time_ocr_glued_together_are_spaced_again() -> None:
    assert unglue_days("EVERYFRIDAYKARAOKE9:00PM-") == "EVERY FRIDAY KARAOKE 9:00PM-"
    assert unglue_days("DJ2") == "DJ2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FRIDAYJUL10", "FRIDAY JUL 10"),
        ("SATURDAY DEC5", "SATURDAY DEC 5"),
        ("SUNDAYJUNE7TH", "SUNDAY JUNE 7TH"),
        ("WEDNESDAYMAY 20", "WEDNESDAY MAY 20"),
        ("MARCO10", "MARCO10"),
        ("Mayday 5", "Mayday 5"),
    ],
)
def test_a_weekday_month_and_day_ocr_glued_into_one_word_are_spaced_again(text: str, expected: str) -> None:
    assert unglue_days(text) == expected


def test_a_date_slash_ocr_read_as_a_bar_after_a_weekday_is_a_slash_again() -> None:
    assert unglue_days("SUNDAY SUN 2|8") == "SUNDAY SUN 2/8"
    assert unglue_days("FRIDAY FR1 3/6") == "FRIDAY FRI 3/6"
    assert unglue_days("Venue | 2") == "Venue | 2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00 PM M - CLOSE", "9:00 PM - CLOSE"),
        ("8:00 PM I- 12:00 AM", "8:00 PM - 12:00 AM"),
        ("9:00 PM - M 1:00 AM", "9:00 PM - 1:00 AM"),
        ("9PM with - 1AM", "9PM with - 1AM"),  # a word, not a stray mark
        ("9PM-1AM", "9PM-1AM"),
    ],
)
def test_a_stray_letter_ocr_read_beside_a_ranges_dash_is_dropped(text: str, expected: str) -> None:
    assert stray_marks_dropped(text) == expected


def test_karaoke_glued_to_the_word_after_it_is_spaced_again() -> None:
    assert unglue_days("KARAOKENIGHT") == "KARAOKE NIGHT"
    assert unglue_days("KARAOKEBAR") == "KARAOKEBAR"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HOSTED BYMIKED", "HOSTED BY MIKED"),
        ("8:30PM-12:30AMW/ DJ MIKE D", "8:30PM-12:30AM W/ DJ MIKE D"),
        ("8:00PM TILLCLOSE", "8:00PM TILL CLOSE"),
        ("9:00 PM til lose", "9:00 PM til close"),
        ("Hosted by Mike", "Hosted by Mike"),
        ("wl DJ Juice", "w/ DJ Juice"),
        ("Wl KJ Dana", "W/ KJ Dana"),
        ("Powell DJ", "Powell DJ"),
    ],
)
def test_credits_and_open_ends_ocr_glued_are_spaced_again(text: str, expected: str) -> None:
    assert unglue_days(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7:30 PM-11:30 PMwith DJ Marco", "7:30 PM-11:30 PM with DJ Marco"),
        ("9PM - 1AMwith KJ Tina", "9PM - 1AM with KJ Tina"),
        ("9pm-1am with KJ Tina", "9pm-1am with KJ Tina"),
        ("PMwith", "PMwith"),  # no clock before it: not a meridiem
    ],
)
def test_a_meridiem_in_capitals_glued_to_a_lower_case_word_is_spaced(text: str, expected: str) -> None:
    assert unglue_days(text) == expected
