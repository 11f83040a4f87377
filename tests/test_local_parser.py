"""The rule parser on hand-built OCR boxes: lines, tables, flyers, social posts and traps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.parser import parse_schedule
from pipeline.backends.local.tagging.fields import spaced_venue_name
from pipeline.backends.local.tagging.tags import is_noise
from pipeline.schema import ParsedSchedule

TODAY = dt.date(2026, 11, 28)
ShowRow = tuple[str, str | None, str | None, str | None, str | None]


def stack(texts: Sequence[str], *, top: float = 40, height: float = 30, gap: float = 14) -> list[OcrLine]:
    """One left-aligned box per text, top to bottom; an empty text leaves a block gap."""
    lines: list[OcrLine] = []
    y = top
    for text in texts:
        if text:
            lines.append(OcrLine(text, 40, y, 40 + 14 * len(text), y + height))
        y += height + gap
    return lines


def table(rows: Sequence[Sequence[str]], xs: Sequence[float], *, height: float = 30) -> list[OcrLine]:
    """One box per non-empty cell, cells left-aligned at ``xs``."""
    lines: list[OcrLine] = []
    for index, row in enumerate(rows):
        y = 40 + index * (height + 28)
        for text, x in zip(row, xs, strict=True):
            if text:
                lines.append(OcrLine(text, x, y, x + 13 * len(text), y + height))
    return lines


def show_rows(schedule: ParsedSchedule) -> list[ShowRow]:
    return [(s.venue_name, s.day, s.start_time, s.end_time, s.dj_name) for s in schedule.shows]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "MONDAY - The Rusty Nail - 9PM-1AM - DJ Mike",
            [("The Rusty Nail", "monday", "21:00", "01:00", "Mike")],
        ),
        (
            "TUESDAY | Sand Bar Station | 9PM-2AM | KJ Max",
            [("Sand Bar Station", "tuesday", "21:00", "02:00", "Max")],
        ),
        (
            "Every Friday \u00b7 Kelley's Pub \u00b7 9pm-close",
            [("Kelley's Pub", "friday", "21:00", None, None)],
        ),
        (
            "Thursdays & Saturdays @ Oties Tavern & Grill 8pm-12am KJ Max",
            [
                ("Oties Tavern & Grill", "thursday", "20:00", "00:00", "Max"),
                ("Oties Tavern & Grill", "saturday", "20:00", "00:00", "Max"),
            ],
        ),
        (
            "Thu-Sat: Blue Moon Saloon 10PM-2AM (DJ Tina)",
            [
                ("Blue Moon Saloon", day, "22:00", "02:00", "Tina")
                for day in ("thursday", "friday", "saturday")
            ],
        ),
        (
            "WEDNESDAYS KARAOKE 8PM - MIDNIGHT with DJ Steve @ The Back Porch",
            [("The Back Porch", "wednesday", "20:00", "00:00", "Steve")],
        ),
        (
            "Friday nights at Oneilly's Sports Pub - 123 Main St, Columbus, OH - 9pm karaoke with djmax614",
            [("Oneilly's Sports Pub", "friday", "21:00", None, "djmax614")],
        ),
        (
            "Weekends at Lucky Shamrock 6- 9PM",
            [("Lucky Shamrock", d, "18:00", "21:00", None) for d in ("saturday", "sunday")],
        ),
        ("SUN @northighdublin 6PM-9PM", [("northighdublin", "sunday", "18:00", "21:00", None)]),
    ],
)
def test_one_show_per_line(line: str, expected: list[ShowRow]) -> None:
    schedule = parse_schedule(stack(["KARAOKE SCHEDULE", line]), today=TODAY)
    assert show_rows(schedule) == expected


def test_lines_with_title_and_vendor_credit() -> None:
    lines = stack(
        [
            "Weekly Karaoke",
            "Karaoke by Star Sound Entertainment",
            "",
            "MONDAY - The Rusty Nail - 9PM-1AM - DJ Mike",
            "SATURDAYS KARAOKE 9PM-2AM KJ Tina @ Sand Bar Station",
        ]
    )
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [
        ("The Rusty Nail", "monday", "21:00", "01:00", "Mike"),
        ("Sand Bar Station", "saturday", "21:00", "02:00", "Tina"),
    ]
    assert {s.vendor for s in schedule.shows} == {"Star Sound Entertainment"}
    assert [v.name for v in schedule.vendors] == ["Star Sound Entertainment"]
    assert [v.name for v in schedule.venues] == ["The Rusty Nail", "Sand Bar Station"]
    assert [(d.name, d.aliases) for d in schedule.djs] == [("Mike", ["DJ Mike"]), ("Tina", ["KJ Tina"])]
    assert [s.time for s in schedule.shows] == ["9PM-1AM", "9PM-2AM"]


def test_a_venue_heading_names_the_venue_of_lines_without_one() -> None:
    lines = stack(
        ["Oties Tavern & Grill", "SUNDAYS KARAOKE 7:00PM - 11:00PM with DJ Steve", "Every Thursday 9pm-close"]
    )
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [
        ("Oties Tavern & Grill", "sunday", "19:00", "23:00", "Steve"),
        ("Oties Tavern & Grill", "thursday", "21:00", None, None),
    ]


def test_a_wrapped_line_is_read_as_one() -> None:
    lines = [
        OcrLine("Thursdays & Saturdays | Oties Tavern &", 24, 100, 560, 132),
        OcrLine("Grill | 8:30pm-12:30am | KJ Max", 24, 136, 420, 168),
        OcrLine("Sunday: Lucky Shamrock 9PM-2AM (DJ", 24, 190, 560, 222),
        OcrLine("Carlos)", 24, 226, 120, 258),
    ]
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [
        ("Oties Tavern & Grill", "thursday", "20:30", "00:30", "Max"),
        ("Oties Tavern & Grill", "saturday", "20:30", "00:30", "Max"),
        ("Lucky Shamrock", "sunday", "21:00", "02:00", "Carlos"),
    ]


TABLE_ROWS = [
    ["Venue", "Day", "DJ", "Time", "Address"],
    ["The Rusty Nail", "Thu-Sat", "DJ Mike", "9PM-2AM", "123 Main St, Columbus, OH 43215"],
    ["Kelley's Pub", "Every Monday", "Max", "8pm-12am", ""],
    ["Sand Bar Station", "SUNDAYS", "", "9pm-close", "2200 N High St, Columbus, OH 43201"],
]


def test_table_with_one_box_per_cell_in_any_column_order() -> None:
    schedule = parse_schedule(table(TABLE_ROWS, [40, 300, 480, 640, 800]), today=TODAY)
    assert show_rows(schedule) == [
        ("The Rusty Nail", "thursday", "21:00", "02:00", "Mike"),
        ("The Rusty Nail", "friday", "21:00", "02:00", "Mike"),
        ("The Rusty Nail", "saturday", "21:00", "02:00", "Mike"),
        ("Kelley's Pub", "monday", "20:00", "00:00", "Max"),
        ("Sand Bar Station", "sunday", "21:00", None, None),
    ]
    venues = {v.name: (v.address, v.city, v.state, v.zip) for v in schedule.venues}
    assert venues == {
        "The Rusty Nail": ("123 Main St", "Columbus", "OH", "43215"),
        "Kelley's Pub": (None, None, None, None),
        "Sand Bar Station": ("2200 N High St", "Columbus", "OH", "43201"),
    }


def test_table_whose_neighbouring_cells_ocr_merged_into_one_box() -> None:
    header = [
        OcrLine(t, x, 40, x + 13 * len(t), 70)
        for t, x in (("Day", 40), ("Venue", 260), ("Time", 520), ("DJ", 720))
    ]
    body = [
        OcrLine("WEDNESDAYS O'Nelly's Sports Pub", 40, 100, 470, 130),
        OcrLine("9:30PM - 1:30AM", 520, 100, 700, 130),
        OcrLine("KJ Rob", 720, 100, 800, 130),
        OcrLine("Fri & Sat", 40, 160, 150, 190),
        OcrLine("The Crescent Lounge 9:00PM - 1:00AM", 260, 160, 700, 190),
        OcrLine("DJ Tina", 720, 160, 810, 190),
    ]
    schedule = parse_schedule(header + body, today=TODAY)
    assert show_rows(schedule) == [
        ("O'Nelly's Sports Pub", "wednesday", "21:30", "01:30", "Rob"),
        ("The Crescent Lounge", "friday", "21:00", "01:00", "Tina"),
        ("The Crescent Lounge", "saturday", "21:00", "01:00", "Tina"),
    ]


def test_flyer_blocks_with_addresses_and_a_vendor() -> None:
    lines = stack(
        [
            "KARAOKE NIGHT",
            "",
            "EVERY MONDAY",
            "9PM-late",
            "Kelley's Pub",
            "with DJ Mike",
            "88 S State St, Westerville, OH 43081",
            "",
            "FRI & SAT",
            "7:00PM - 11:00PM",
            "The Rusty Nail",
            "123 Main St, Columbus, OH 43215",
            "",
            "Presented by Midnight Mic Productions",
        ],
        height=40,
        gap=12,
    )
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [
        ("Kelley's Pub", "monday", "21:00", None, "Mike"),
        ("The Rusty Nail", "friday", "19:00", "23:00", None),
        ("The Rusty Nail", "saturday", "19:00", "23:00", None),
    ]
    assert {s.vendor for s in schedule.shows} == {"Midnight Mic Productions"}
    venues = {v.name: (v.address, v.city, v.state, v.zip) for v in schedule.venues}
    assert venues == {
        "Kelley's Pub": ("88 S State St", "Westerville", "OH", "43081"),
        "The Rusty Nail": ("123 Main St", "Columbus", "OH", "43215"),
    }


def test_flyer_with_the_venue_above_the_day_and_a_wrapped_zip() -> None:
    lines = [
        OcrLine("THE RUSTY NAIL", 150, 40, 450, 85),
        OcrLine("EVERY THURSDAY", 120, 100, 480, 145),
        OcrLine("9PM-2AM", 200, 160, 400, 200),
        OcrLine("123 Main St, Columbus, OH", 90, 215, 510, 247),
        OcrLine("43215", 250, 253, 350, 285),
    ]
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [("THE RUSTY NAIL", "thursday", "21:00", "02:00", None)]
    assert schedule.venues[0].zip == "43215"


def test_social_post_chrome_is_ignored() -> None:
    lines = [
        OcrLine("9:41", 23, 9, 86, 39),
        OcrLine("5G 60%", 467, 9, 575, 38),
        OcrLine("\u25cf", 21, 61, 107, 149),
        OcrLine("Columbus Karaoke Scene", 111, 69, 472, 99),
        OcrLine("Yesterday at 4:12 PM", 111, 107, 362, 132),
        OcrLine("Where to sing this week:", 24, 170, 400, 202),
        OcrLine("MONDAYS | O'Nelly's Sports Pub | 9PM-late | DJ Rob", 23, 219, 580, 253),
        OcrLine("#karaoke #columbus", 26, 299, 311, 327),
        OcrLine("Likes 26", 26, 362, 124, 387),
        OcrLine("2 comments", 115, 362, 285, 388),
        OcrLine("2h", 300, 362, 330, 388),
        OcrLine("Like", 74, 418, 133, 447),
        OcrLine("Comment", 243, 420, 368, 445),
        OcrLine("Share", 465, 417, 545, 447),
    ]
    schedule = parse_schedule(lines, today=TODAY)
    assert show_rows(schedule) == [("O'Nelly's Sports Pub", "monday", "21:00", None, "Rob")]
    assert [v.name for v in schedule.venues] == ["O'Nelly's Sports Pub"]


TRAP_PAGES = [
    ["This Week at Blue Moon Saloon", "TUESDAY - Trivia Night - 7PM-9PM", "Happy Hour Mon-Fri 3-6PM"],
    ["Weekly Specials", "Wing Wednesday | 50 cent wings | 4PM-close", "Thursdays: Bingo 7:00PM - 9:00PM"],
    [
        "Trivia & Specials",
        "Live Music Saturdays 9PM-1AM",
        "Sunday Brunch 10AM - 2PM",
        "FRIDAY Fish Fry 5PM-9PM",
    ],
    ["9:41", "Yesterday at 4:12 PM", "Likes 12", "3 comments"],
    ["Karaoke at The Rusty Nail 9PM"],  # no day: never given a default one
    [],
]


@pytest.mark.parametrize("texts", TRAP_PAGES)
def test_pages_without_karaoke_shows_yield_none(texts: list[str]) -> None:
    assert parse_schedule(stack(texts), today=TODAY).shows == []


def test_karaoke_lines_survive_among_specials() -> None:
    lines = stack(
        ["KARAOKE SCHEDULE", "TUESDAY - Trivia Night - 7PM-9PM", "WEDNESDAY - The Back Porch - 9PM-1AM"]
    )
    assert show_rows(parse_schedule(lines, today=TODAY)) == [
        ("The Back Porch", "wednesday", "21:00", "01:00", None)
    ]


def test_dated_one_off_gets_its_date_and_weekday() -> None:
    schedule = parse_schedule(stack(["KARAOKE", "Sat Dec 12 - The Rusty Nail - 8pm-12am"]), today=TODAY)
    assert [(s.venue_name, s.date, s.day) for s in schedule.shows] == [
        ("The Rusty Nail", dt.date(2026, 12, 12), "saturday")
    ]


def test_monthly_rule_is_kept_in_the_description() -> None:
    schedule = parse_schedule(
        stack(["Last SATURDAY of Month - Kelley's Pub - 9PM-1AM - KJ Max"]), today=TODAY
    )
    assert [(s.day, s.description) for s in schedule.shows] == [("saturday", "Last SATURDAY of Month")]


def test_confidence_drops_when_parts_are_missing() -> None:
    full = parse_schedule(stack(["MONDAY - The Rusty Nail - 9PM-1AM - DJ Mike"]), today=TODAY).shows[0]
    bare = parse_schedule(stack(["MONDAY - The Rusty Nail - 9PM"]), today=TODAY).shows[0]
    assert 0.0 <= bare.confidence < full.confidence <= 1.0


def test_a_day_without_a_time_is_a_hint_not_a_show() -> None:
    assert parse_schedule(stack(["KARAOKE", "MONDAY - The Rusty Nail"]), today=TODAY).shows == []


# --- breadth: prose, notes, grids, phone chrome (rows are real strings from REFERENCE.md / issue 3)

PROSE_CASES = [
    (
        ["Wednesday at Kelley's Pub 8pm-12am, Thursday & Saturday at The Crescent Lounge 8pm-12am"],
        [
            ("Kelley's Pub", "wednesday", "20:00", "00:00", None),
            ("The Crescent Lounge", "thursday", "20:00", "00:00", None),
            ("The Crescent Lounge", "saturday", "20:00", "00:00", None),
        ],
    ),
    (  # a paragraph wrapped mid-clause, as a phone or a post shows it
        [
            "Here's where to find us: Monday at Kelley's Pub 9:00PM till",
            "2:00AM, Monday nights at Hideaway Bar & Grill 8PM-12AM with",
            "DJ Tina, and Tuesday at Dublin Village Tavern 8pm till 1am. See you there!",
        ],
        [
            ("Kelley's Pub", "monday", "21:00", "02:00", None),
            ("Hideaway Bar & Grill", "monday", "20:00", "00:00", "Tina"),
            ("Dublin Village Tavern", "tuesday", "20:00", "01:00", None),
        ],
    ),
    (
        ["Friday nights at Oneilly's Sports Pub - 123 Main St, Columbus, OH - 9pm karaoke with djmax614"],
        [("Oneilly's Sports Pub", "friday", "21:00", None, "djmax614")],
    ),
    (["SUN @northighdublin 6PM-9PM"], [("northighdublin", "sunday", "18:00", "21:00", None)]),
]


@pytest.mark.parametrize(("texts", "expected"), PROSE_CASES)
def test_running_prose_gives_one_show_per_clause(texts: list[str], expected: list[ShowRow]) -> None:
    lines = [OcrLine(text, 40, 40 + 34 * i, 40 + 12 * len(text), 70 + 34 * i) for i, text in enumerate(texts)]
    assert show_rows(parse_schedule(lines, today=TODAY)) == expected


def test_canceled_note_is_a_note_not_a_venue() -> None:
    schedule = parse_schedule(
        stack(
            [
                "Oties Tavern & Grill",
                "5344 Center St, Hilliard, OH 43026",
                "",
                "Thursdays 8pm-12am with KJ Max",
                "SUNDAYS KARAOKE 7:00PM - 11:00PM (Temporarily Canceled for Fall/Winter)",
            ]
        ),
        today=TODAY,
    )
    assert show_rows(schedule) == [
        ("Oties Tavern & Grill", "thursday", "20:00", "00:00", "Max"),
        ("Oties Tavern & Grill", "sunday", "19:00", "23:00", None),
    ]
    assert schedule.shows[1].description == "Temporarily Canceled for Fall/Winter"
    assert schedule.venues[0].address == "5344 Center St"  # the heading's address


def test_weekly_grid_gives_one_show_per_filled_cell() -> None:
    rows = [
        ["Venue", "Mon", "Tue", "Wed", "Thu"],
        ["Sand Bar Station", "9PM-2AM", "", "", "8-12"],
        ["Lucky Shamrock", "", "9pm-close", "", ""],
    ]
    schedule = parse_schedule(table(rows, [40, 360, 520, 680, 840]), today=TODAY)
    assert show_rows(schedule) == [
        ("Sand Bar Station", "monday", "21:00", "02:00", None),
        ("Sand Bar Station", "thursday", "20:00", "00:00", None),
        ("Lucky Shamrock", "tuesday", "21:00", None, None),
    ]


def test_story_chrome_and_dated_event() -> None:
    schedule = parse_schedule(
        stack(
            [
                "9:41",
                "karaoke_cbus 5h",
                "",
                "NEW YEAR'S EVE KARAOKE",
                "Thursday, December 31, 2026",
                "9PM-2AM",
                "The Crescent Lounge",
                "with DJ Steve",
                "",
                "Send message",
            ]
        ),
        today=TODAY,
    )
    assert [(s.venue_name, s.date, s.day, s.start_time, s.dj_name) for s in schedule.shows] == [
        ("The Crescent Lounge", dt.date(2026, 12, 31), "thursday", "21:00", "Steve")
    ]


def test_specials_post_under_a_singers_page_yields_no_shows() -> None:
    texts = [
        "Singers of Central Ohio",
        "Yesterday at 11:44 PM",
        "",
        "This Week at The Pint House",
        "Happy Hour Mon-Fri 3-6PM",
        "Euchre League - Mondays 7pm",
        "Live Music Saturdays 9PM-1AM",
    ]
    assert parse_schedule(stack(texts), today=TODAY).shows == []


def test_a_time_with_a_stray_ocr_letter_before_its_dash_keeps_its_range() -> None:
    schedule = parse_schedule(stack(["Kelley's Pub", "FRIDAY 9:OO PM M - 1:00 AM"]), today=TODAY)
    assert show_rows(schedule) == [("Kelley's Pub", "friday", "21:00", "01:00", None)]


@pytest.mark.parametrize(
    ("read", "spaced"),
    [
        ("THEVELVETROOM", "THE VELVET ROOM"),
        ("GATORSSPORTSBAR", "GATORS SPORTS BAR"),
        ("HIGHLAND", "HIGHLAND"),  # 'and' is never cut off
        ("THEODORES", "THEODORES"),  # no generic word at the end: left as read
        ("The Velvet Room", "The Velvet Room"),
    ],
)
def test_a_venue_name_ocr_read_without_spaces_is_spaced_around_article_and_generic_words(
    read: str, spaced: str
) -> None:
    assert spaced_venue_name(read) == spaced


def test_a_flyer_venue_read_without_spaces_matches_its_spaced_name() -> None:
    lines = stack(
        ["KARAOKENIGHT", "EVERY FRIDAY 9PM-1AM", "", "THEVELVETROOM", "9558 Mill Rd, Tampa, FL 33655"]
    )
    assert show_rows(parse_schedule(lines, today=TODAY)) == [
        ("THE VELVET ROOM", "friday", "21:00", "01:00", None)
    ]


@pytest.mark.parametrize("text", ["II 5G 25%", "I 5G 67%", "5G 25%", "9:41"])
def test_a_phone_status_bar_with_its_signal_bars_is_noise(text: str) -> None:
    assert is_noise(text)


@pytest.mark.parametrize(
    ("read", "spaced"),
    [
        ("THETIPSY CROW", "THE TIPSY CROW"),
        ("THESTATION", "THE STATION"),
        ("THEODORES", "THEODORES"),  # the rest does not start as a word can: left as read
        ("THELMAS PUB", "THELMAS PUB"),
        ("Theater Row", "Theater Row"),
    ],
)
def test_an_article_ocr_glued_to_the_next_word_is_cut_off_where_a_word_can_start(
    read: str, spaced: str
) -> None:
    assert spaced_venue_name(read) == spaced


VENUE_PAGE = [  # a venue's own page on a phone, as OCR read it (boxes in the capture's pixels)
    OcrLine("Bottoms Up Bar", 78, 495, 1031, 648),
    OcrLine("East Village·Dive Bar", 90, 698, 570, 753),
    OcrLine("About This Venue", 146, 877, 714, 941),
    OcrLine("Craft beer, burgers and a stage", 145, 998, 917, 1069),
    OcrLine("that welcomes first-timers and", 146, 1073, 894, 1128),
    OcrLine("regulars alike.", 144, 1136, 497, 1202),
    OcrLine("4916 Route 9, Toledo, OH 43617", 148, 1252, 837, 1302),
    OcrLine("Sing Here", 87, 1455, 504, 1545),
    OcrLine("Saturdays·7pm-11pm Hosted by", 206, 1600, 1031, 1669),
    OcrLine("Marco", 207, 1673, 349, 1727),
    OcrLine("Wednesdays·6PM - 9PM", 208, 1762, 862, 1821),
]


def test_a_list_heading_under_a_venue_pages_title_gives_way_to_the_title() -> None:
    """'Sing Here' heads the list in type far smaller than the page's title; with one street
    on the page, the title names the shows' venue."""
    schedule = parse_schedule(VENUE_PAGE, today=dt.date(2026, 12, 5))
    assert {(s.venue_name, s.day) for s in schedule.shows} == {
        ("Bottoms Up Bar", "saturday"),
        ("Bottoms Up Bar", "wednesday"),
    }


def test_a_list_heading_on_a_page_of_several_streets_is_left_as_read() -> None:
    second = OcrLine("718 Main St, Tampa, FL 33602", 148, 1900, 837, 1950)
    schedule = parse_schedule([*VENUE_PAGE, second], today=dt.date(2026, 12, 5))
    assert {s.venue_name for s in schedule.shows} == {"Sing Here"}
