"""Times, days, dates, addresses and whole-schedule cleaning, on strings real schedules use."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.clean import (
    TimeRange,
    clean_schedule,
    dj_key,
    find_address,
    normalize_phone,
    normalize_state,
    normalize_time_range,
    parse_date,
    parse_days,
    parse_time,
    split_address,
    venue_key,
)
from pipeline.schema import WEEKDAYS, Dj, ParsedSchedule, Show, Venue

TODAY = dt.date(2026, 11, 28)  # a Saturday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9pm", "21:00"),
        ("9 PM", "21:00"),
        ("9:00PM", "21:00"),
        ("9 p.m.", "21:00"),
        ("21:00", "21:00"),
        ("9.30pm", "21:30"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("midnight", "00:00"),
        ("noon", "12:00"),
        ("25:99", None),
        ("13pm", None),
        ("9", None),
        ("tonight", None),
    ],
)
def test_parse_time(text: str, expected: str | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "start", "end", "seen"),
    [
        ("9PM-2AM", "21:00", "02:00", "9PM-2AM"),
        ("9:00PM - 1:00AM", "21:00", "01:00", "9:00PM - 1:00AM"),
        ("8pm-12am", "20:00", "00:00", "8pm-12am"),
        ("8PM - MIDNIGHT", "20:00", "00:00", "8PM - MIDNIGHT"),
        ("9pm-close", "21:00", None, "9pm-close"),
        ("9PM-late", "21:00", None, "9PM-late"),
        ("6- 9PM", "18:00", "21:00", "6- 9PM"),
        ("8-12", "20:00", "00:00", "8-12"),
        ("9:30 - 1:30", "21:30", "01:30", "9:30 - 1:30"),
        ("21:00-01:00", "21:00", "01:00", "21:00-01:00"),
        ("9 till 2", "21:00", "02:00", "9 till 2"),
        ("9pm to 2am", "21:00", "02:00", "9pm to 2am"),
        ("7:00PM \u2013 11:00PM", "19:00", "23:00", "7:00PM \u2013 11:00PM"),
        ("Happy Hour Mon-Fri 3-6PM", "15:00", "18:00", "3-6PM"),
        ("SUNDAYS KARAOKE 7:00PM - 11:00PM with DJ Steve", "19:00", "23:00", "7:00PM - 11:00PM"),
        ("WED @venue 7PM", "19:00", None, "7PM"),
        ("Friday nights at Oneilly's Sports Pub - 9pm karaoke", "21:00", None, "9pm"),
    ],
)
def test_normalize_time_range(text: str, start: str, end: str | None, seen: str) -> None:
    assert normalize_time_range(text) == TimeRange(start, end, seen)


@pytest.mark.parametrize(
    "text", ["Taco Tuesday - $2 tacos all day", "call 614-555-0134", "Fall/Winter", "25:99"]
)
def test_normalize_time_range_finds_no_time(text: str) -> None:
    assert normalize_time_range(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SUNDAYS", ["sunday"]),
        ("Every Thursday", ["thursday"]),
        ("Thu", ["thursday"]),
        ("Thurs", ["thursday"]),
        ("Tues", ["tuesday"]),
        ("Weds", ["wednesday"]),
        ("Thu-Sat", ["thursday", "friday", "saturday"]),
        ("Mon-Fri", ["monday", "tuesday", "wednesday", "thursday", "friday"]),
        ("Fri-Sun", ["friday", "saturday", "sunday"]),
        ("Thursdays & Saturdays", ["thursday", "saturday"]),
        ("Wednesday, Friday & Sundays", ["wednesday", "friday", "sunday"]),
        ("Weekends", ["saturday", "sunday"]),
        ("Last SATURDAY of Month", ["saturday"]),
        ("Friday nights at Oneilly's Sports Pub", ["friday"]),
        ("Nightly", list(WEEKDAYS)),
        ("Every night", list(WEEKDAYS)),
        ("Daily", list(WEEKDAYS)),
        ("The Rusty Nail", []),
        ("Sunset Grill", []),
        ("(Temporarily Canceled for Fall/Winter)", []),
    ],
)
def test_parse_days(text: str, expected: list[str]) -> None:
    assert parse_days(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat Dec 12", dt.date(2026, 12, 12)),
        ("Thursday, December 31, 2026", dt.date(2026, 12, 31)),
        ("Thursday, December 31", dt.date(2026, 12, 31)),
        ("Dec 12th", dt.date(2026, 12, 12)),
        ("Mar 3", dt.date(2027, 3, 3)),  # already past this year: next year's
        ("Fall/Winter", None),
        ("Every Thursday", None),
    ],
)
def test_parse_date(text: str, expected: dt.date | None) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("OH", "OH"), ("oh", "OH"), ("Ohio", "OH"), ("new york", "NY"), ("XX", None)],
)
def test_normalize_state(text: str, expected: str | None) -> None:
    assert normalize_state(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(614) 555-0134", "(614) 555-0134"),
        ("614.555.0134", "(614) 555-0134"),
        ("+1 614-555-0134", "(614) 555-0134"),
        ("555-0134", None),
    ],
)
def test_normalize_phone(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("123 Main St, Columbus, OH 43215", ("123 Main St", "Columbus", "OH", "43215")),
        ("2200 N High St, Columbus, OH 43201", ("2200 N High St", "Columbus", "OH", "43201")),
        ("3950 Broadway, Grove City, OH 43123", ("3950 Broadway", "Grove City", "OH", "43123")),
        ("5344 Center St, Hilliard, Ohio", ("5344 Center St", "Hilliard", "OH", None)),
        ("123 Main Street", ("123 Main Street", None, None, None)),
    ],
)
def test_split_address(text: str, parts: tuple[str | None, ...]) -> None:
    address = split_address(text)
    assert address is not None
    assert (address.street, address.city, address.state, address.zip) == parts


def test_split_address_refuses_a_line_that_is_more_than_an_address() -> None:
    line = "Friday nights at Oneilly's Sports Pub - 123 Main St, Columbus, OH - 9pm karaoke"
    assert split_address(line) is None
    found = find_address(line)
    assert found is not None and found.text == "123 Main St, Columbus, OH"


def test_name_keys_match_spellings_of_one_name() -> None:
    assert venue_key("The Rusty Nail") == venue_key("rusty nail")
    assert dj_key("DJ Max") == dj_key("@max") == dj_key("KJ Max")


def _show(**fields: object) -> Show:
    return Show.model_validate({"venue_name": "The Rusty Nail", "day": "friday", **fields})


def test_clean_schedule_derives_times_from_the_text() -> None:
    cleaned = clean_schedule(ParsedSchedule(shows=[_show(time=" 9PM-2AM ")]))
    assert [(s.start_time, s.end_time, s.time) for s in cleaned.shows] == [("21:00", "02:00", "9PM-2AM")]


def test_clean_schedule_drops_a_placeholder_midnight_end() -> None:
    raw = _show(time="9pm-close", start_time="21:00", end_time="00:00")
    assert clean_schedule(ParsedSchedule(shows=[raw])).shows[0].end_time is None


def test_clean_schedule_keeps_a_real_midnight_end() -> None:
    raw = _show(time="8PM - MIDNIGHT", start_time="20:00", end_time="00:00")
    assert clean_schedule(ParsedSchedule(shows=[raw])).shows[0].end_time == "00:00"


def test_clean_schedule_trims_names_and_drops_shows_without_a_venue() -> None:
    raw = ParsedSchedule(
        shows=[_show(venue_name="  - The  Rusty Nail - ", dj_name=" Mike "), _show(venue_name=" ")]
    )
    cleaned = clean_schedule(raw)
    assert [(s.venue_name, s.dj_name) for s in cleaned.shows] == [("The Rusty Nail", "Mike")]


def test_clean_schedule_dedupes_exact_repeats_and_keeps_their_sources() -> None:
    first, second = _show(time="9PM", sources=["a.png"], confidence=0.4), _show(time="9PM", sources=["b.png"])
    other_day = _show(time="9PM", day="saturday")
    cleaned = clean_schedule(ParsedSchedule(shows=[first, second, other_day]))
    assert len(cleaned.shows) == 2
    assert cleaned.shows[0].sources == ["a.png", "b.png"]
    assert cleaned.shows[0].confidence == 0.5


def test_clean_schedule_merges_venues_and_djs_and_normalises_their_fields() -> None:
    raw = ParsedSchedule(
        venues=[
            Venue(name="The Rusty Nail"),
            Venue(name="the rusty nail", state="Ohio", phone="614.555.0134"),
        ],
        djs=[Dj(name="Max", aliases=["DJ Max"]), Dj(name="@Max", aliases=["KJ Max"])],
    )
    cleaned = clean_schedule(raw)
    assert [(v.name, v.state, v.phone) for v in cleaned.venues] == [
        ("The Rusty Nail", "OH", "(614) 555-0134")
    ]
    assert [(d.name, d.aliases) for d in cleaned.djs] == [("Max", ["DJ Max", "KJ Max"])]
