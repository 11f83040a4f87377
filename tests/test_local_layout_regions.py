"""Layout-aware reading on hand-made OCR boxes: regions, pane tables, chrome, badges (no OCR)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from pipeline.backends.local.layout.regions import cut_regions
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.parser import _side_kind, parse_schedule
from pipeline.backends.local.tagging.chrome import is_chrome

TODAY = dt.date(2026, 12, 1)


def box(text: str, x: float, y: float, height: float = 20, char: float = 11) -> OcrLine:
    return OcrLine(text, x, y, x + char * len(text), y + height)


def card(x: float, y: float, lines: Sequence[str]) -> list[OcrLine]:
    """One card: its lines stacked 28 px apart from (x, y)."""
    return [box(text, x, y + 28 * index) for index, text in enumerate(lines)]


CARDS = [
    ["MONDAYS KARAOKE 8:00PM -", "12:00AM with DJ Steve", "The Rusty Nail", "123 Main St, Columbus, OH",
     "FACEBOOK PAGE"],
    ["TUESDAYS KARAOKE 9PM-1AM", "with DJ Kat", "Sand Bar Station", "88 High St, Columbus, OH",
     "VENUE WEBSITE"],
    ["FRIDAYS KARAOKE 7:30pm-", "11:30pm", "Kelley's Pub", "500 Broad St, Columbus, OH", "Sports Bar"],
]  # fmt: skip


def grid_page() -> list[OcrLine]:
    nav = [box("Home", 40, 10), box("Schedule", 140, 10), box("Book Us", 280, 10)]
    cards = [line for index, lines in enumerate(CARDS) for line in card(40 + 330 * index, 120, lines)]
    return nav + cards


def shows_of(lines: Sequence[OcrLine]) -> set[tuple[str, str | None, str | None, str | None, str | None]]:
    schedule = parse_schedule(lines, today=TODAY)
    return {(s.venue_name, s.day, s.start_time, s.end_time, s.dj_name) for s in schedule.shows}


def test_a_card_grid_is_cut_into_one_region_per_card() -> None:
    regions = cut_regions(grid_page(), _side_kind)
    texts = [{line.text for column in region for line in column} for region in regions]
    for lines in CARDS:
        assert set(lines) in texts


def test_a_table_is_not_cut_between_its_day_and_time_columns() -> None:
    rows = [("Monday", "9PM"), ("Friday", "8PM")]
    table = [
        box(text, x, 100 + 30 * row)
        for row, cells in enumerate(rows)
        for text, x in zip(cells, (40, 300), strict=True)
    ]
    assert len(cut_regions(table, _side_kind)) == 1


def test_each_card_keeps_its_own_venue_time_and_dj() -> None:
    assert shows_of(grid_page()) == {
        ("The Rusty Nail", "monday", "20:00", "00:00", "Steve"),
        ("Sand Bar Station", "tuesday", "21:00", "01:00", "Kat"),
        ("Kelley's Pub", "friday", "19:30", "23:30", None),
    }


def test_a_pane_title_is_carried_down_to_its_day_time_host_rows() -> None:
    lines = [
        box("The Rusty Nail", 40, 40, height=30, char=16),
        box("Sports Bar", 40, 80, height=14, char=7),
        box("Ste 600", 140, 80, height=14, char=7),
        box("123 Main St, Columbus, OH 43215", 40, 100, height=16, char=8),
        box("Day", 50, 140), box("Time", 200, 140), box("Host", 330, 140),
        box("Monday", 50, 188), box("9:00 PM", 200, 178), box("- 1:00", 200, 196), box("AM", 200, 214),
        box("Steve", 330, 188),
        box("Thursday", 50, 250), box("8PM-", 200, 240), box("12AM", 200, 258), box("Kat", 330, 250),
        box("Also every day", 50, 300),
    ]  # fmt: skip
    assert shows_of(lines) == {
        ("The Rusty Nail", "monday", "21:00", "01:00", "Steve"),
        ("The Rusty Nail", "thursday", "20:00", "00:00", "Kat"),
    }
    venues = parse_schedule(lines, today=TODAY).venues
    assert [(v.name, v.address, v.zip) for v in venues] == [("The Rusty Nail", "123 Main St", "43215")]


def test_a_vendor_badge_is_never_the_venue_and_the_small_print_names_it() -> None:
    lines = [
        box("Mike's Karaoke", 20, 20, height=24),
        box("KARAOKE NIGHT", 40, 120, height=40, char=28),
        box("EVERY TUESDAY", 60, 200, height=34, char=22),
        box("9:00 PM - 1:00 AM", 60, 250, height=32, char=20),
        box("Presented by KJ Kat", 80, 310, height=26, char=14),
        box("Sand Bar Station", 100, 450, height=16, char=9),
        box("88 High St, Columbus, OH", 90, 470, height=16, char=8),
    ]
    schedule = parse_schedule(lines, today=TODAY)
    assert {(s.venue_name, s.day, s.start_time, s.end_time, s.dj_name, s.vendor) for s in schedule.shows} == {
        ("Sand Bar Station", "tuesday", "21:00", "01:00", "Kat", "Mike's Karaoke")
    }
    assert [v.name for v in schedule.vendors] == ["Mike's Karaoke"]


def test_a_year_printed_on_the_page_anchors_a_date_without_one() -> None:
    lines = [
        box("Jun 7 - 13, 2026", 40, 20),
        box("SATURDAY Sat 6/27 9PM-1AM", 40, 80),
        box("Bluebird Bar", 40, 108),
    ]
    schedule = parse_schedule(lines, today=dt.date(2027, 12, 1))
    assert [(s.day, s.date) for s in schedule.shows] == [("saturday", dt.date(2026, 6, 27))]


def test_week_view_cards_under_a_day_header_take_its_date() -> None:
    columns = [
        ["SUNDAY SUN 6/21", "The Dugout", "10:00PM-1:00AM", "with KJ Mike D", "Columbus", "",
         "El Toro Cantina", "8PM - 12AM", "Toledo"],
        ["MONDAY MON 6/22", "No events"],
        ["TUESDAY TUE 6/23", "Harbor House", "9pm - LATE", "Presented by DJ Nate"],
    ]  # fmt: skip
    lines = [box("Jun 21 - 27, 2026", 40, 20)] + [
        box(text, 40 + 260 * index, 80 + 22 * row + (20 if row > 4 else 0))
        for index, column in enumerate(columns)
        for row, text in enumerate(column)
        if text
    ]
    schedule = parse_schedule(lines, today=dt.date(2026, 12, 1))
    shows = {(s.venue_name, s.day, s.date, s.start_time, s.dj_name) for s in schedule.shows}
    assert shows == {
        ("The Dugout", "sunday", dt.date(2026, 6, 21), "22:00", "Mike D"),
        ("El Toro Cantina", "sunday", dt.date(2026, 6, 21), "20:00", None),
        ("Harbor House", "tuesday", dt.date(2026, 6, 23), "21:00", "Nate"),
    }


def test_day_rows_of_a_venue_time_host_table_date_the_rows_under_them() -> None:
    rows = [("VENUE", "TIME", "HOST"), ("TUESDAY",), ("The Office Lounge", "9:30PM - 1:30AM"),
            ("THURSDAY",), ("Rooftop 35", "9pm-2am", "KJ Marco")]  # fmt: skip
    lines = [
        box(text, 40 + 300 * col, 100 + 40 * row)
        for row, cells in enumerate(rows)
        for col, text in enumerate(cells)
    ]
    assert shows_of(lines) == {
        ("The Office Lounge", "tuesday", "21:30", "01:30", None),
        ("Rooftop 35", "thursday", "21:00", "02:00", "Marco"),
    }


def test_a_stacked_logo_beside_the_small_print_is_read_apart_from_it() -> None:
    lines = [
        box("KARAOKE NIGHT", 20, 14, height=45, char=30),
        box("WEDNESDAYS & SATURDAYS", 10, 71, height=24, char=17),
        box("8:30pm-12:30am", 1, 104, height=55, char=30),
        box("Hosted by Tommy Tunes", 47, 166, height=35, char=15),
        box("Neon", 46, 434, height=24),
        box("Nights", 42, 456, height=25),
        box("Karaoke", 37, 478, height=22),
        box("SILVER SPUR SALOON", 137, 433, height=25, char=14),
        box("2717 S Elm St", 137, 461, height=18, char=7),
        box("Tampa, FL 33672", 139, 480, height=18, char=7),
    ]  # fmt: skip
    schedule = parse_schedule(lines, today=TODAY)
    assert {(s.venue_name, s.day, s.dj_name) for s in schedule.shows} == {
        ("SILVER SPUR SALOON", "wednesday", "Tommy Tunes"),
        ("SILVER SPUR SALOON", "saturday", "Tommy Tunes"),
    }
    assert [(v.name, v.address, v.city) for v in schedule.venues] == [
        ("SILVER SPUR SALOON", "2717 S Elm St", "Tampa")
    ]


def test_a_name_split_by_a_logo_and_a_range_whose_dash_ocr_lost_are_joined() -> None:
    lines = [
        box("KARAOKE NIGHT", 0, 27, height=70, char=44),
        box("SATURDAY NIGHTS", 69, 103, height=60, char=28),
        box("9:00 PM", 136, 170, height=40, char=20), box("1:00 AM", 136, 212, height=40, char=20),
        box("Presented by DJ Nate", 126, 260, height=40, char=16),
        box("Encore", 245, 651, height=33, char=13), box("Karaoke", 242, 681, height=31, char=13),
        box("THE RUSTY", 33, 669, height=31, char=19), box("ANCHOR", 366, 669, height=32, char=22),
        box("7003 Commerce Pkwy, Clearwater, FL 33777", 53, 761, height=27, char=11),
    ]  # fmt: skip
    assert shows_of(lines) == {("THE RUSTY ANCHOR", "saturday", "21:00", "01:00", "Nate")}


def test_week_view_headers_set_close_together_do_not_merge_their_columns() -> None:
    headers = [box("WEDNESDAY WED", 592, 215, char=13), box("THURSDAY THU", 777, 215, char=13),
               box("12/16", 591, 239), box("12/17", 779, 239)]  # fmt: skip
    cards = card(604, 287, ["The Velvet Room", "8PM - LATE", "with KJ Steve", "Tampa"]) + card(
        790, 287, ["The Office Lounge", "7:00 PM-11:00 PM", "w/ DJ Marco", "Columbus"]
    )
    lines = [box("Dec 13 - 19, 2026", 20, 150), *headers, *cards]
    schedule = parse_schedule(lines, today=dt.date(2026, 12, 1))
    assert {(s.venue_name, s.day, s.date, s.start_time, s.dj_name) for s in schedule.shows} == {
        ("The Velvet Room", "wednesday", dt.date(2026, 12, 16), "20:00", "Steve"),
        ("The Office Lounge", "thursday", dt.date(2026, 12, 17), "19:00", "Marco"),
    }


def test_a_phone_table_whose_cells_wrap_reads_one_row_per_show() -> None:
    header = [box("VENUE", 40, 100), box("TIME", 300, 100), box("HOST", 500, 100)]
    rows = [
        [("The Tipsy", 40, 160), ("7:30PM -", 300, 160), ("KJ Mike", 500, 160)],
        [("Crow", 40, 184), ("11:30PM", 300, 184)],
        [("Silver", 40, 240), ("10pm-1am", 300, 240), ("KJ Juice", 500, 240)],
        [("Spur Saloon", 40, 264)],
    ]
    lines = [box("MONDAY", 40, 130), *header, *(box(t, x, y) for row in rows for t, x, y in row)]
    assert shows_of(sorted(lines, key=lambda line: line.y0)) == {
        ("The Tipsy Crow", "monday", "19:30", "23:30", "Mike"),
        ("Silver Spur Saloon", "monday", "22:00", "01:00", "Juice"),
    }


def test_cards_whose_times_ocr_read_with_letter_o_are_cut_apart_and_read() -> None:
    left = [
        "El Toro Cantina",
        "MONDAYS KARAOKE NIGHT 8:3OPM -",
        "12:3OAM HOSTED BY MARCO",
        "982 N High St, Boise, ID",
    ]
    right = ["Rooftop 35", "EVERYFRIDAYKARAOKE9:0OPM-", "1:00AM WITH KJ TINA", "12 Elm St, Boise, ID"]
    lines = card(40, 120, left) + card(420, 120, right)
    assert shows_of(lines) == {
        ("El Toro Cantina", "monday", "20:30", "00:30", "MARCO"),
        ("Rooftop 35", "friday", "21:00", "01:00", "TINA"),
    }


def test_a_week_title_close_above_its_day_columns_does_not_merge_them() -> None:
    title = box("Nov 8 - 14, 2026", 239, 179, char=16)  # spans the gutter, 0.75 text heights above
    headers = [box("SUNDAY SUN 11/8", 238, 214), box("MONDAY MON 11/9", 446, 214)]
    cards = card(248, 252, ["Neon Moon Lounge", "9PM - 1AM", "w/ DJ Tommy Tunes", "Mesa"]) + card(
        456, 252, ["Gator's Sports Bar", "7:00PM - 11:00PM", "with KJ Marco", "Columbus"]
    )
    schedule = parse_schedule([title, *headers, *cards], today=dt.date(2026, 12, 1))
    assert {(s.venue_name, s.date, s.start_time, s.dj_name) for s in schedule.shows} == {
        ("Neon Moon Lounge", dt.date(2026, 11, 8), "21:00", "Tommy Tunes"),
        ("Gator's Sports Bar", dt.date(2026, 11, 9), "19:00", "Marco"),
    }


def test_a_cancelled_card_under_a_day_header_is_not_a_show() -> None:
    headers = [box("TUESDAY TUE 6/23", 40, 100), box("WEDNESDAY WED 6/24", 400, 100)]
    cards = [
        *card(40, 150, ["The Rusty Anchor", "8:00PM-close", "Clearwater"]),
        *card(40, 260, ["The Office Lounge CANCELLED", "6PM - 9PM", "Columbus"]),
        *card(400, 150, ["Rooftop 35", "8pm-12am", "Boise"]),
    ]
    schedule = parse_schedule([*headers, *cards], today=dt.date(2026, 6, 1))
    assert {(s.venue_name, s.day) for s in schedule.shows} == {
        ("The Rusty Anchor", "tuesday"),
        ("Rooftop 35", "wednesday"),
    }


def test_a_pane_title_over_its_street_beats_the_site_name_two_lines_above_it() -> None:
    lines = [
        box("MicDrop Directory", 40, 16, height=29, char=14),
        box("Rooftop 35", 40, 60, height=36, char=18),
        box("982 N High St, Boise, ID 83743", 40, 110, height=19, char=8),
        box("Day", 50, 160), box("Time", 200, 160), box("Host", 330, 160),
        box("Thursday", 50, 200), box("9pm-2am", 200, 200), box("KJ Dana", 330, 200),
    ]  # fmt: skip
    assert shows_of(lines) == {("Rooftop 35", "thursday", "21:00", "02:00", "Dana")}


def test_a_heading_ending_in_at_over_a_day_line_leaves_the_venue_after_the_day() -> None:
    lines = [
        box("WHERE WE AT", 40, 100, height=24),
        box("TUE \u2013 Hideout Lounge 6:00PM-9:00PM", 40, 126, height=24),
        box("WED \u2013 Gator's Sports Bar 7:30 PM - 11:30 PM", 40, 170, height=24),
    ]
    assert shows_of(lines) == {
        ("Hideout Lounge", "tuesday", "18:00", "21:00", None),
        ("Gator's Sports Bar", "wednesday", "19:30", "23:30", None),
    }


def test_a_flyer_logo_stacked_beside_the_small_print_leaves_the_venue_over_its_street() -> None:
    boxes = [
        ("KARAOKE", 2, 23, 337, 128), ("NIGHT", 320, 62, 552, 148), ("EVERY SUNDAY", 60, 149, 499, 226),
        ("6pm-9pm", 108, 221, 455, 309), ("with KJ Dana", 146, 307, 414, 352),
        ("THE OFFICE LOUNGE", 187, 598, 443, 635), ("Karaoke by", 35, 627, 168, 657),
        ("4985 Harbor Blvd", 188, 641, 358, 665), ("Dana", 69, 656, 133, 683),
        ("Columbus, OH 43296", 190, 664, 391, 690), ("(777) 443-2206", 190, 688, 339, 713),
    ]  # fmt: skip
    lines = [OcrLine(text, x0, y0, x1, y1) for text, x0, y0, x1, y1 in boxes]
    assert shows_of(lines) == {("THE OFFICE LOUNGE", "sunday", "18:00", "21:00", "Dana")}


def test_a_headline_wrapped_before_its_dash_close_keeps_its_end_and_host() -> None:
    lines = card(
        40,
        120,
        ["El Toro Cantina", "THURSDAY KARAOKE 9:00PM", "- CLOSE WITH DJ CHRIS B", "12 Elm St, Tampa, FL"],
    )
    assert shows_of(lines) == {("El Toro Cantina", "thursday", "21:00", None, "CHRIS B")}


def test_a_logo_stacked_between_the_halves_of_a_name_is_read_apart_from_it() -> None:
    boxes = [
        ("KARAOKE", 10, 6, 462, 101), ("FRIDAYS & SATURDAYS", 6, 101, 466, 138),
        ("6PM-9PM", 76, 142, 399, 199), ("Hosted by Mike D", 82, 203, 392, 244),
        ("Neon", 206, 480, 266, 506), ("STATION", 300, 502, 400, 530), ("SAND BAR", 56, 504, 172, 530),
        ("Nights", 202, 504, 271, 531), ("Karaoke", 195, 528, 278, 553),
        ("142 Route 9 Ste 600, Mesa, AZ 85220", 102, 581, 370, 601),
    ]  # fmt: skip
    lines = [OcrLine(text, x0, y0, x1, y1) for text, x0, y0, x1, y1 in boxes]
    assert shows_of(lines) == {
        ("SAND BAR STATION", "friday", "18:00", "21:00", "Mike D"),
        ("SAND BAR STATION", "saturday", "18:00", "21:00", "Mike D"),
    }


def test_a_venue_name_wrapped_in_a_narrow_column_is_one_name_though_ocr_boxes_overlap() -> None:
    """A week view's day column 170 px wide: 'Sand Bar Station' (176 px) does not fit, so it wraps."""
    lines = [
        box("THU 7/16", 40, 250),
        box("Sand Bar", 40, 283, height=24),
        box("Station", 40, 304, height=26),  # 3 px into the line above
        box("9pm-2am", 40, 328, height=24),
        box("DJ Chris B", 40, 350, height=24),
        box("Mesa", 40, 390),
        *(box("FRI 7/17", 210, 250), box("Tiki Hut", 210, 283, height=24), box("8pm-12am", 210, 328)),
        *(box("DJ Kat", 210, 350, height=24), box("Tampa", 210, 390)),
    ]
    schedule = parse_schedule(lines, today=dt.date(2026, 7, 1))
    assert [(s.venue_name, s.date, s.start_time) for s in schedule.shows] == [
        ("Sand Bar Station", dt.date(2026, 7, 16), "21:00"),
        ("Tiki Hut", dt.date(2026, 7, 17), "20:00"),
    ]


def test_a_title_over_a_shorter_line_in_a_wide_card_is_not_a_wrapped_name() -> None:
    """Cards 480 px apart: 'Mulligan's Irish Pub' had room for 'East', so that line is its own."""
    lines = [
        *(box("Mulligan's Irish Pub", 40, 100, height=27), box("East Village", 40, 128, height=25)),
        *(box("Mon 9:00PM - 1:00AM", 40, 190),),
        *(box("The Velvet Room", 520, 100, height=27), box("Riverside", 520, 128, height=25)),
        *(box("Wed 10PM - 1AM", 520, 190),),
    ]
    schedule = parse_schedule(lines, today=dt.date(2026, 7, 1))
    assert sorted((s.venue_name, s.day) for s in schedule.shows) == [
        ("Mulligan's Irish Pub", "monday"),
        ("The Velvet Room", "wednesday"),
    ]


def test_a_week_day_holding_two_cards_in_one_block_gives_two_shows() -> None:
    lines = [box("SUNDAY SUN 5/3", 40, 213), *card(40, 258, ["Spinnaker Grill", "10pm-2am", "Mesa"])]
    lines += card(40, 352, ["The Dugout", "9:00 PM-close", "with KJ Steve", "Columbus"])
    schedule = parse_schedule(lines, today=dt.date(2026, 5, 1))
    assert {(s.venue_name, s.date, s.start_time, s.dj_name) for s in schedule.shows} == {
        ("Spinnaker Grill", dt.date(2026, 5, 3), "22:00", None),
        ("The Dugout", dt.date(2026, 5, 3), "21:00", "Steve"),
    }


def test_cards_under_a_cancelled_first_card_keep_the_day_header_above_it() -> None:
    lines = [box("MONDAY MON 5/4", 40, 215)]
    lines += card(40, 258, ["The Local Bar & Grill CANCELLED", "7:00PM -11:00PM", "Boise"])
    lines += card(40, 397, ["Mulligan's Irish", "8PM-12AM", "with KJ Juice", "Clearwater"])
    schedule = parse_schedule(lines, today=dt.date(2026, 5, 1))
    assert [(s.venue_name, s.date, s.start_time) for s in schedule.shows] == [
        ("Mulligan's Irish", dt.date(2026, 5, 4), "20:00")
    ]


def test_a_name_block_over_a_time_block_under_a_day_header_is_one_card() -> None:
    lines = [box("FRIDAY FRI 9/18", 40, 215), box("Mulligan's Irish", 40, 260)]
    lines += card(40, 303, ["8:00PM - 12:00AM", "with KJ Marco", "Clearwater"])
    lines += card(40, 397, ["Harbor House", "9:00PM - 2:00AM", "Dayton"])
    schedule = parse_schedule(lines, today=dt.date(2026, 9, 1))
    assert {(s.venue_name, s.start_time, s.dj_name) for s in schedule.shows} == {
        ("Mulligan's Irish", "20:00", "Marco"),
        ("Harbor House", "21:00", None),
    }


def test_a_badge_stacked_between_the_halves_of_a_name_is_the_vendor_and_never_joins_the_name() -> None:
    boxes = [
        ("KARAOKE", 27, 12, 466, 146), ("EVERYTUESDAY", 68, 151, 424, 196),
        ("9:30pm-1:30am", 42, 208, 450, 277), ("Presented by DJ Chris B", 73, 281, 420, 321),
        ("Karaoke by", 188, 490, 308, 516),
        ("THE WAGON", 30, 500, 178, 528), ("WHEEL", 313, 500, 402, 528), ("Dana", 216, 516, 276, 538),
        ("7872 Lakeshore Dr, Columbus, OH 43293", 90, 581, 402, 602),
    ]  # fmt: skip
    schedule = parse_schedule([OcrLine(text, *corners) for text, *corners in boxes], today=TODAY)
    assert {(s.venue_name, s.day, s.start_time, s.dj_name, s.vendor) for s in schedule.shows} == {
        ("THE WAGON WHEEL", "tuesday", "21:30", "Chris B", "Dana")
    }


def test_a_card_whose_name_wraps_starts_at_its_first_line_not_at_the_city_above_it() -> None:
    lines = [box("TUESDAY TUE 2/24", 412, 213)]
    lines += card(414, 256, ["Gator's Sports", "Bar", "6pm-9pm", "Columbus"])
    lines += card(414, 370, ["Gator's Sports", "Bar", "7:30PM - 11:30PM", "with DJ Juice", "Columbus"])
    schedule = parse_schedule(lines, today=dt.date(2026, 2, 1))
    assert sorted((s.venue_name, s.start_time, s.dj_name) for s in schedule.shows) == [
        ("Gator's Sports", "18:00", None),  # 'Bar' a line lower is a second name line, not a card
        ("Gator's Sports", "19:30", "Juice"),
    ]


def test_week_view_labels_naming_a_day_twice_are_not_a_tables_column_names() -> None:
    boxes = [
        ("Apr 12 - 18, 2026", 28, 170, 223, 200), ("SUNDAY SUN 4/12", 29, 215, 192, 235),
        ("MONDAY MON", 203, 215, 335, 235), ("TUESDAY TUE", 381, 215, 510, 235),
        ("4/13", 202, 237, 248, 263), ("4/14", 378, 237, 424, 262),
        ("The Rusty Anchor", 37, 256, 175, 282), ("Nothing scheduled", 202, 277, 329, 301),
        ("Nothing scheduled", 379, 277, 504, 301), ("10:00PM-2:00AM", 39, 280, 171, 304),
        ("Presented by DJ", 38, 301, 149, 325), ("Tommy Tunes", 38, 321, 136, 346),
        ("Clearwater", 38, 341, 116, 365),
    ]  # fmt: skip
    schedule = parse_schedule(
        [OcrLine(text, *corners) for text, *corners in boxes], today=dt.date(2026, 4, 1)
    )
    assert [(s.venue_name, s.day, s.date, s.dj_name) for s in schedule.shows] == [
        ("The Rusty Anchor", "sunday", dt.date(2026, 4, 12), "Tommy Tunes")
    ]


def test_a_table_cell_between_cells_above_and_below_is_never_taken_for_a_stacked_logo() -> None:
    boxes = [
        ("VENUE", 102, 223, 170, 255), ("TIME", 650, 226, 699, 252), ("HOST", 1176, 223, 1234, 253),
        ("SATURDAY", 105, 808, 193, 835),
        ("El Toro Cantina", 105, 892, 230, 923), ("8PM - LATE", 647, 890, 751, 924),
        ("KJ Dana", 1174, 887, 1256, 926),
        ("Mulligan's Irish Pub", 106, 935, 258, 965), ("9pm - Close", 648, 933, 754, 968),
        ("Rooftop 35", 103, 977, 200, 1012), ("9PM - 2AM", 648, 977, 747, 1011),
        ("KJ Steve", 1174, 976, 1259, 1013),
        ("Harbor House", 103, 1021, 220, 1054), ("9:30PM-1:30AM", 650, 1021, 792, 1051),
        ("KJ Tina", 1175, 1019, 1250, 1054),
    ]  # fmt: skip
    schedule = parse_schedule([OcrLine(text, *corners) for text, *corners in boxes], today=TODAY)
    assert ("Rooftop 35", "21:00", "02:00", "Steve") in {
        (s.venue_name, s.start_time, s.end_time, s.dj_name) for s in schedule.shows
    }


@pytest.mark.parametrize("brand_height", [29, 37, 110])  # smaller, as tall as the title, taller (a phone)
def test_the_name_right_above_the_street_beats_a_site_brand_two_lines_above_it(brand_height: int) -> None:
    lines = [
        box("SingSpot", 40, 12, height=brand_height, char=14),
        box("The Rusty Anchor", 40, 20 + brand_height + 40, height=93 if brand_height > 90 else 36, char=18),
        box("7003 Commerce Pkwy, Clearwater, FL 33777", 40, 300, height=23, char=8),
        box("Day", 50, 360), box("Time", 200, 360), box("Host", 330, 360),
        box("Sunday", 50, 400), box("7:30PM-11:30PM", 200, 400), box("Steve", 330, 400),
    ]  # fmt: skip
    assert shows_of(lines) == {("The Rusty Anchor", "sunday", "19:30", "23:30", "Steve")}


def test_a_tag_left_under_the_title_in_small_type_does_not_take_the_venue() -> None:
    lines = [
        box("The Rusty Anchor", 40, 114, height=32, char=16),
        box("Food", 40, 155, height=22),
        box("7003 Commerce Pkwy, Clearwater, FL 33777", 40, 190, height=23, char=8),
        box("Day", 50, 300), box("Time", 200, 300), box("Host", 330, 300),
        box("Saturday", 50, 340), box("9:30PM-1:30AM", 200, 340), box("KJ Dana", 330, 340),
    ]  # fmt: skip
    assert shows_of(lines) == {("The Rusty Anchor", "saturday", "21:30", "01:30", "Dana")}


def test_a_chip_in_one_row_with_a_known_tag_is_a_tag_too_not_the_venue() -> None:
    lines = [
        box("The Local Bar & Grill", 622, 118, height=27, char=12),
        box("Sports Bar", 626, 156, height=24, char=7),
        box("Food", 710, 157, height=21, char=11),
        box("6957 Riverside Dr, Boise, ID 83765", 622, 192, height=19, char=7),
        box("(889) 967-5400", 622, 210, height=23, char=7),
        box("DAY", 630, 343), box("TIME", 942, 345), box("HOST", 1424, 345),
        box("Wednesday", 630, 382), box("8:30 PM - 12:30 AM", 942, 386, char=8), box("KJ Juice", 1422, 385),
    ]  # fmt: skip
    assert shows_of(lines) == {("The Local Bar & Grill", "wednesday", "20:30", "00:30", "Juice")}


def test_a_presented_by_credit_names_the_company_without_its_preposition() -> None:
    lines = [
        box("TUESDAY JUN 30", 54, 98, height=44, char=22),
        box("9:00 PM - 1:00 AM", 4, 146, height=50, char=25),
        box("Presented by Encore Karaoke", 102, 240, height=23, char=9),
        box("HARBOR HOUSE", 15, 444, height=26, char=17),
        box("6163 Harbor Blvd", 15, 474, height=20, char=8),
        box("Dayton, OH 45494", 14, 492, height=21, char=8),
    ]  # fmt: skip
    schedule = parse_schedule(lines, today=dt.date(2026, 6, 14))
    assert [v.name for v in schedule.vendors] == ["Encore Karaoke"]
    assert [(s.venue_name, s.date) for s in schedule.shows] == [("HARBOR HOUSE", dt.date(2026, 6, 30))]


def test_a_card_whose_day_ocr_lost_is_still_cut_from_the_card_beside_it() -> None:
    dayless = ["KARAOKE 8:00PM-12:00AM", "with DJ Steve", "The Rusty Nail", "123 Main St, Columbus, OH"]
    lines = card(40, 120, CARDS[1][:4]) + card(370, 120, dayless) + card(700, 120, CARDS[2][:4])
    assert len(cut_regions(lines, _side_kind)) == 3
    assert shows_of(lines) == {
        ("Sand Bar Station", "tuesday", "21:00", "01:00", "Kat"),
        ("Kelley's Pub", "friday", "19:30", "23:30", None),
    }


def test_a_logo_word_spanning_the_venue_and_street_lines_does_not_join_them_into_one_row() -> None:
    lines = [
        box("EVERY MONDAY", 59, 175, height=54, char=40),
        box("7pm-11pm", 103, 230, height=85, char=49),
        box("w/ DJ Marco", 184, 320, height=45, char=21),
        OcrLine("NEON MOON LOUNGE", 20, 666, 403, 701),
        OcrLine("araoke b", 421, 685, 570, 715),
        OcrLine("5605 Commerce Pkwy", 18, 701, 209, 729),
        OcrLine("Dana", 457, 715, 542, 746),
        OcrLine("Mesa, AZ 85269", 18, 727, 159, 753),
        OcrLine("(453) 313-7341", 20, 753, 153, 778),
    ]  # fmt: skip
    assert shows_of(lines) == {("NEON MOON LOUNGE", "monday", "19:00", "23:00", "Marco")}


@pytest.mark.parametrize("text", ["VISIT WEDSITE", "VIEW DETAILZ", "FOLLOW INSTAGRAN"])
def test_a_button_with_one_letter_ocr_misread_in_a_long_word_is_still_chrome(text: str) -> None:
    assert is_chrome(text)
    assert not is_chrome("Harbor House")


def test_a_bare_clock_below_the_top_row_is_a_wrapped_time_cell_not_a_status_bar() -> None:
    lines = [
        box("9:41", 40, 2, height=24),
        box("Gator's Sports Bar", 374, 96, height=34, char=14),
        box("8863 Mill Rd, Columbus, OH 43246", 375, 174, char=9),
        box("DAY", 386, 327), box("TIME", 580, 328), box("HOST", 676, 328),
        box("Sunday", 384, 364, height=31), box("10:00", 578, 366, height=28), box("DJ Mike D", 675, 366),
        box("PM -", 579, 389, height=26), box("1:00 AM", 581, 412, height=25),
    ]  # fmt: skip
    assert shows_of(lines) == {("Gator's Sports Bar", "sunday", "22:00", "01:00", "Mike D")}


def test_only_a_known_tags_own_neighbours_are_chips_not_a_name_two_boxes_away() -> None:
    lines = [
        box("EVERY TUESDAY", 60, 106, height=42, char=24),
        box("9pm-2am", 105, 150, height=60, char=32),
        box("Hosted by Tommy Tunes", 22, 214, height=40, char=18),
        OcrLine("Encore", 178, 454, 258, 478),
        OcrLine("TAVERN", 276, 461, 352, 488),
        OcrLine("BLUE HERON", 42, 462, 158, 486),
        OcrLine("Karaoke", 171, 478, 265, 498),
        OcrLine("37 W Broad St, Mesa, AZ 85294", 58, 535, 377, 554),
    ]  # fmt: skip
    assert shows_of(lines) == {("BLUE HERON", "tuesday", "21:00", "02:00", "Tommy Tunes")}


def test_a_tag_with_one_letter_ocr_misread_is_not_read_into_the_venue_above_it() -> None:
    lines = [
        box("The Tipsy Crow", 554, 2702, height=30, char=10),
        box("Dive B8r", 559, 2732, height=30, char=9),
        box("Monday 9:30PM-1:30AM", 554, 2790, height=30, char=10),
    ]  # fmt: skip
    assert is_chrome("Dive B8r")
    assert shows_of(lines) == {("The Tipsy Crow", "monday", "21:30", "01:30", None)}
