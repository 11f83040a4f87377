"""Lines beside a show that decide it: a closed status, a selected day tab, a monthly rule, small print."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.parser import parse_schedule
from pipeline.backends.local.tagging.day_tabs import find_day_tabs
from pipeline.backends.local.tagging.words import is_cancel_badge

TODAY = dt.date(2026, 12, 1)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def box(text: str, x: float, y: float, height: float = 20, char: float = 11) -> OcrLine:
    return OcrLine(text, x, y, x + char * len(text), y + height)


def card(x: float, y: float, lines: Sequence[str]) -> list[OcrLine]:
    return [box(text, x, y + 28 * index) for index, text in enumerate(lines)]


def grid(cards: Sequence[Sequence[str]], top: float = 200) -> list[OcrLine]:
    """Cards three to a row, 360 px apart, rows 200 px apart."""
    return [
        line
        for index, lines in enumerate(cards)
        for line in card(40 + 360 * (index % 3), top + 200 * (index // 3), lines)
    ]


def shows_of(lines: Sequence[OcrLine]) -> set[tuple[str, str | None, str | None]]:
    schedule = parse_schedule(lines, today=TODAY)
    return {(s.venue_name, s.day, s.start_time) for s in schedule.shows}


def test_status_words_that_call_a_night_off_are_badges_and_others_are_not() -> None:
    for text in ("Closed: private event", "No karaoke tonight", "CLOSED TONIGHT", "Cancelled this week"):
        assert is_cancel_badge(text), text
    for text in ("Closed now", "CLOSED", "Open", "Tonight", "9PM - Close", "Off"):  # 'Closed': opening hours
        assert not is_cancel_badge(text), text


def test_a_closed_card_gives_no_show_and_lends_nothing_to_its_neighbours() -> None:
    cards = [
        ["The Dugout", "On", "WEDNESDAYS · 8pm-12am"],
        ["Gator's Sports Bar", "Closed for private party", "MONDAY 7:30PM-11:30PM"],
        ["Sand Bar Station", "Closed: private event", "SUNDAYS"],
        ["Harbor House", "Every Thursday · 9PM-1AM", "with DJ Steve"],
    ]
    assert shows_of(grid(cards)) == {
        ("The Dugout", "wednesday", "20:00"),
        ("Harbor House", "thursday", "21:00"),
    }


def tabs(y: float, labels: Sequence[str], gap: float = 30) -> list[OcrLine]:
    lines, x = [], 40.0
    for label in labels:
        lines.append(box(label, x, y))
        x += 11 * len(label) + gap
    return lines


CARDS = [
    ["The Velvet Room", "9:00 PM - 1:00 AM", "DJ Chris B"],
    ["Harbor House", "9pm-1am", "Host: Dana"],
    ["Hideout Lounge", "10PM-2AM", "DJ Marco"],
]


def test_the_tab_written_apart_gives_its_day_to_cards_without_one() -> None:
    labels = [("THURSDAY" if day == "Thu" else day) for day in DAYS]
    lines = [box("SingFinder", 40, 20), *tabs(100, labels), *grid(CARDS)]
    assert shows_of(lines) == {
        ("The Velvet Room", "thursday", "21:00"),
        ("Harbor House", "thursday", "21:00"),
        ("Hideout Lounge", "thursday", "22:00"),
    }


def test_a_line_under_the_tabs_naming_one_day_selects_it() -> None:
    lines = [*tabs(100, DAYS), box("Friday karaoke · 3 shows", 40, 140), *grid(CARDS)]
    found = find_day_tabs(lines)
    assert found is not None and found.day == "friday"
    assert {day for _, day, _ in shows_of(lines)} == {"friday"}


def test_tabs_marked_by_colour_alone_give_no_day_rather_than_seven() -> None:
    lines = [*tabs(100, DAYS), *grid(CARDS)]
    found = find_day_tabs(lines)
    assert found is not None and found.day is None
    assert shows_of(lines) == set()


def test_a_week_views_day_headers_spread_over_columns_are_not_tabs() -> None:
    headers = [box(day.upper(), 40 + 260 * index, 100) for index, day in enumerate(DAYS)]
    assert find_day_tabs(headers) is None
    assert find_day_tabs(tabs(100, ["Venue", *DAYS])) is None  # a weekly grid's header row


def test_ordinal_weeks_of_a_month_keep_their_weekday_and_never_name_the_venue() -> None:
    lines = card(
        40,
        100,
        ["Kelley's Pub", "500 Broad St, Columbus, OH 43215", "Second and Fourth Friday · 9:00 PM - 1:00 AM",
         "1st & 3rd Saturdays · 8pm-12am", "Every Wednesday · 9pm-1am"],
    )  # fmt: skip
    schedule = parse_schedule(lines, today=TODAY)
    assert {(s.venue_name, s.day, s.description) for s in schedule.shows} == {
        ("Kelley's Pub", "friday", "Second and Fourth Friday"),
        ("Kelley's Pub", "saturday", "1st & 3rd Saturdays"),
        ("Kelley's Pub", "wednesday", None),
    }


def test_a_flyers_venue_is_the_small_print_over_its_street_not_the_brand_or_slogan() -> None:
    lines = [
        box("MIKEY'S KARAOKE", 10, 30, height=100, char=34),
        box("Pro sound, 80,000 songs, zero judgement", 2, 140, height=40, char=13),
        box("TUESDAYS", 130, 195, height=50, char=32),
        box("9PM - LATE", 130, 250, height=50, char=27),
        box("Liberty Ale House", 160, 540, height=30, char=12),
        box("7932 Oak Ave", 176, 574, height=20, char=11),
        box("Mesa, AZ 85295", 198, 596, height=20, char=10),
    ]
    assert shows_of(lines) == {("Liberty Ale House", "tuesday", "21:00")}


def test_tabs_a_phone_wraps_onto_two_rows_are_one_bar() -> None:
    labels = [("SATURDAY" if day == "Sat" else day) for day in DAYS]
    lines = [*tabs(100, labels[:5]), *tabs(140, labels[5:]), *grid(CARDS[:1], top=260)]
    found = find_day_tabs(lines)
    assert found is not None and found.day == "saturday" and len(found.lines) == 7
    assert shows_of(lines) == {("The Velvet Room", "saturday", "21:00")}


def test_a_tab_on_a_fill_of_its_own_is_selected_when_the_image_gives_the_colours() -> None:
    from PIL import Image, ImageDraw

    from pipeline.backends.local.shades import with_backgrounds

    page = Image.new("RGB", (900, 500), (18, 19, 23))
    row = tabs(100, DAYS)
    wed = row[DAYS.index("Wed")]
    ImageDraw.Draw(page).rectangle((wed.x0 - 10, wed.y0 - 8, wed.x1 + 10, wed.y1 + 8), fill=(224, 36, 94))
    lines = with_backgrounds(page, [*row, *grid(CARDS[:2])])
    assert lines[DAYS.index("Wed")].background == (224, 36, 94)
    assert lines[0].background == (18, 19, 23)
    found = find_day_tabs(lines)
    assert found is not None and found.day == "wednesday"
    assert {day for _, day, _ in shows_of(lines)} == {"wednesday"}
    assert find_day_tabs([*row, *grid(CARDS[:2])]) is not None  # without the colours: tabs, no day


def test_a_monthly_rule_in_sentence_case_or_wrapped_over_two_lines_keeps_its_day() -> None:
    lines = card(
        40,
        100,
        ["Mulligan's Irish Pub", "9172 W Broad St, Clearwater, FL 33762", "Second Monday of every month ·",
         "9:30pm-1:30am · with DJ Nate", "First Sunday of every", "month · 6PM - 9PM"],
    )  # fmt: skip
    schedule = parse_schedule(lines, today=TODAY)
    assert {(s.venue_name, s.day, s.start_time) for s in schedule.shows} == {
        ("Mulligan's Irish Pub", "monday", "21:30"),
        ("Mulligan's Irish Pub", "sunday", "18:00"),
    }
