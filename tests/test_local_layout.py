"""The layout stage on hand-built OCR boxes: rows, blocks, table headers and cells, regions.

(The XY-cut's harder pages, week views and card grids, are in test_local_layout_regions.py.)
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.backends.local.layout.regions import cut_regions
from pipeline.backends.local.layout.rows import Row, group_rows, split_blocks
from pipeline.backends.local.layout.tables import find_table_header, table_cells, wrapped_cells_joined
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.parser import _side_kind


def box(text: str, x: float, y: float, *, width: float | None = None, height: float = 30) -> OcrLine:
    return OcrLine(text, x, y, x + (width if width is not None else 14 * len(text)), y + height)


def texts(rows: Sequence[Row]) -> list[str]:
    return [row.text for row in rows]


def test_boxes_side_by_side_are_one_row_of_cells() -> None:
    rows = group_rows([box("MONDAY", 40, 40), box("The Rusty Nail", 400, 42), box("9PM", 800, 40)])
    assert texts(rows) == ["MONDAY | The Rusty Nail | 9PM"]


def test_boxes_a_word_apart_are_one_phrase() -> None:
    assert texts(group_rows([box("The", 40, 40), box("Rusty Nail", 87, 40)])) == ["The Rusty Nail"]


def test_a_line_ending_mid_phrase_is_joined_to_the_next() -> None:
    assert texts(group_rows([box("Karaoke with", 40, 40), box("DJ Mike", 40, 75)])) == [
        "Karaoke with DJ Mike"
    ]


def test_a_wide_gap_starts_a_block() -> None:
    rows = group_rows(
        [
            box("The Rusty Nail", 40, 40),
            box("9PM - 1AM", 40, 120),
            box("Harbor House", 40, 300),
            box("Friday 8pm", 40, 345),
        ]
    )
    assert texts(rows) == ["The Rusty Nail", "9PM - 1AM", "Harbor House", "Friday 8pm"]
    assert [texts(block) for block in split_blocks(rows)] == [
        ["The Rusty Nail"],
        ["9PM - 1AM"],
        ["Harbor House", "Friday 8pm"],
    ]


def test_chrome_left_out_of_the_rows_still_fills_its_gap() -> None:
    """A card's row of tag chips is dropped as chrome; the card stays one block, the next apart."""
    rows = group_rows(
        [box("The Office Lounge", 40, 40), box("Downtown", 40, 90), box("Wed 10pm-2am", 40, 185)]
    )
    chips = [box("Pub", 40, 135), box("Dedicated", 120, 135)]
    assert [texts(block) for block in split_blocks(rows)] == [
        ["The Office Lounge", "Downtown"],
        ["Wed 10pm-2am"],
    ]
    assert [texts(block) for block in split_blocks(rows, chips)] == [
        ["The Office Lounge", "Downtown", "Wed 10pm-2am"]
    ]
    far = [box("Pub", 40, 135)]  # a chip row with a card-sized gap under it still parts two cards
    assert len(split_blocks([*rows[:2], *group_rows([box("Wed 10pm-2am", 40, 260)])], far)) == 2


def test_type_size_reads_capitals_and_descenders_as_the_same_type() -> None:
    """OCR boxes span the glyphs: 'MULLIGAN'S IRISH PUB' (capitals) at 117 px is larger type than
    'Sing Here' (a descender) at 93 px, though 93 / 117 would pass for one size."""
    caps = Row.of([box("MULLIGAN'S IRISH PUB", 40, 0, height=117)])
    mixed = Row.of([box("Sing Here", 40, 300, height=93)])
    plain = Row.of([box("About This Venue", 40, 500, height=63)])
    assert caps.type_size > 1.5 * mixed.type_size
    assert mixed.type_size == mixed.height and plain.type_size > plain.height


TABLE = [
    box("Day", 40, 40),
    box("Venue", 300, 40),
    box("Time", 600, 40),
    box("DJ", 800, 40),
    box("Monday", 40, 100),
    box("The Rusty Nail", 300, 100),
    box("9PM-1AM", 600, 100),
    box("Mike", 800, 100),
    box("Tuesday", 40, 160),
    box("Sand Bar Station", 300, 160),
    box("8PM-12AM", 600, 160),
    box("Max", 800, 160),
]


def test_a_header_row_names_the_columns_and_each_row_is_cut_into_them() -> None:
    rows = group_rows(TABLE)
    header = find_table_header(rows)
    assert header is not None
    index, columns = header
    assert index == 0 and [column.kind for column in columns] == ["day", "venue", "time", "dj"]
    body = rows[1:]
    assert [table_cells(row, columns, body) for row in body] == [
        {"day": "Monday", "venue": "The Rusty Nail", "time": "9PM-1AM", "dj": "Mike"},
        {"day": "Tuesday", "venue": "Sand Bar Station", "time": "8PM-12AM", "dj": "Max"},
    ]


def test_a_box_ocr_merged_across_two_cells_is_cut_word_by_word() -> None:
    rows = group_rows(
        [
            box("Day", 40, 40),
            box("Venue", 300, 40),
            box("Time", 600, 40),
            box("Monday Rusty Nail", 40, 100, width=550),
            box("9PM", 600, 100),
        ]
    )
    header = find_table_header(rows)
    assert header is not None
    assert table_cells(rows[1], header[1], rows[1:]) == {
        "day": "Monday",
        "venue": "Rusty Nail",
        "time": "9PM",
    }


def test_a_pane_table_has_no_venue_column() -> None:
    rows = group_rows([box("Day", 40, 40), box("Time", 300, 40), box("Host", 600, 40)])
    assert find_table_header(rows) is None  # not a page-wide table
    pane = find_table_header(rows, need_venue=False)
    assert pane is not None and [column.kind for column in pane[1]] == ["day", "time", "dj"]


def test_a_row_whose_cells_wrap_is_joined() -> None:
    rows = group_rows(
        [
            box("Monday", 40, 100),
            box("The Tipsy", 300, 100),
            box("7:30PM -", 600, 100),
            box("Crow", 300, 132),
            box("11:30PM", 600, 132),
        ]
    )
    assert texts(rows) == ["Monday | The Tipsy | 7:30PM -", "Crow | 11:30PM"]
    assert texts(wrapped_cells_joined(rows)) == ["Monday | The Tipsy | 7:30PM - Crow | 11:30PM"]


def test_two_schedules_side_by_side_are_two_regions() -> None:
    left = [box("MONDAY", 40, 40), box("The Rusty Nail", 40, 80), box("9PM-1AM", 40, 120)]
    right = [box("FRIDAY", 700, 40), box("Harbor House", 700, 80), box("8PM-12AM", 700, 120)]
    regions = cut_regions(left + right, _side_kind)
    assert [[[b.text for b in column] for column in region] for region in regions] == [
        [["MONDAY", "The Rusty Nail", "9PM-1AM"]],
        [["FRIDAY", "Harbor House", "8PM-12AM"]],
    ]


def test_a_table_cut_down_the_middle_stays_whole() -> None:
    days = [box("Monday", 40, 40), box("Tuesday", 40, 80), box("Friday", 40, 120)]
    times = [box("9PM-1AM", 700, 40), box("8PM", 700, 80), box("10PM", 700, 120)]
    assert len(cut_regions(days + times, _side_kind)) == 1  # days alone and times alone are parts
