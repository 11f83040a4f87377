"""Rule-based parser: OCR text boxes of one screenshot -> a ParsedSchedule, in stages.

1. Tagging (``tagging.tags``): status bars, post timestamps and reaction counts are
   dropped, and every line is tagged once (chrome, overlay, day, time, karaoke).
2. Layout: the lines but chrome are grouped into rows (``layout.rows``); a page without
   a table header (``layout.tables``) is cut into regions (card grid columns, cards,
   panes, a week view's day columns; ``layout.regions``).
3. Readers: a page whose header row names a venue column is one table (``readers.table``);
   otherwise each region is read on its own, as a pane when its table has no venue column
   (Day | Time | Host; ``readers.pane``), else as a flow of lines (``readers.flow``), a
   week view's day headers giving their day to the cards under them (``readers.day_marks``),
   or a listing's selected day tab to the cards under it (``tagging.day_tabs``).
4. Assembly (``assembly``): one show per day, each venue, DJ and vendor once; a page about
   trivia, specials or happy hour and not karaoke gives none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from pipeline.backends.local.assembly import assemble, no_shows
from pipeline.backends.local.layout.regions import Region, cut_regions
from pipeline.backends.local.layout.rows import Row, group_rows
from pipeline.backends.local.layout.tables import find_table_header
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.day_marks import DayMark, day_marks, mark_above
from pipeline.backends.local.readers.drafts import Draft, Page, Reading
from pipeline.backends.local.readers.flow import flow_drafts
from pipeline.backends.local.readers.page import read_page, venue_heading
from pipeline.backends.local.readers.pane import pane_drafts
from pipeline.backends.local.readers.table import table_drafts
from pipeline.backends.local.tagging.day_tabs import DayTabs
from pipeline.backends.local.tagging.fields import LineFields
from pipeline.backends.local.tagging.tags import tag_page
from pipeline.backends.local.tagging.words import mentions_other_event, names_day
from pipeline.clean import normalize_time_range
from pipeline.dates import find_page_year
from pipeline.schema import ParsedSchedule

__all__ = ["parse_schedule"]

_CARD_LINES = 2  # lines of words (a name, a street, a credit) that make a time without a day a card


def _side_kind(boxes: Sequence[OcrLine], tabs: DayTabs | None = None) -> str:
    """For the XY-cut: 'schedule' (a day and a time), 'none' (neither) or 'part' (a table column).

    A time with at least two lines of words beside it but no day is 'card': a card whose
    day OCR lost, which a gutter still parts from a schedule beside it. Under a selected
    day tab, every box has that day.
    """
    text = " ".join(box.text for box in boxes)
    under_tab = tabs is not None and tabs.day is not None and all(box.y0 >= tabs.bottom for box in boxes)
    day = names_day(text) or under_tab
    timed = [normalize_time_range(box.text) is not None for box in boxes]
    if day and any(timed):
        return "schedule"
    if day and len(boxes) <= 3:
        return "none"  # a week view's day header over 'No events'
    worded = sum(
        not found and len(re.findall(r"[A-Za-z]", box.text)) >= 3
        for box, found in zip(boxes, timed, strict=True)
    )
    if any(timed) and not day and worded >= _CARD_LINES:
        return "card"
    return "part" if day or any(timed) else "none"


def _rows(columns: Region, keep: Callable[[OcrLine], bool], right: float) -> list[Row]:
    """A region's rows, column after column; a column has room up to the next one, the last up
    to ``right`` (the next region beside it, else the page's right edge)."""
    lefts = [min(box.x0 for box in column) for column in columns]
    rows: list[Row] = []
    for column, left in zip(columns, lefts, strict=True):
        edge = min((x for x in lefts if x > left), default=right)
        rows += group_rows([box for box in column if keep(box)], room=edge - left)
    return rows


Extent = tuple[float, float, float, float]
"""x0, x1, y0, y1 of a region's boxes."""


def _right_edge(index: int, extents: Sequence[Extent], page_right: float) -> float:
    """Where region ``index``'s room ends: the left edge of the nearest region to its right that
    shares some of its height (the next card of a grid row); the last card of a row has the
    row's pitch (the distance from the card left of it); else the page's right edge."""
    x0, x1, y0, y1 = extents[index]
    others = [extent for other, extent in enumerate(extents) if other != index]
    level = [(ox0, ox1) for ox0, ox1, oy0, oy1 in others if oy0 < y1 and y0 < oy1]  # beside it
    right = [ox0 for ox0, _ in level if ox0 >= x1]
    if right:
        return min(right)
    left = [ox0 for ox0, ox1 in level if ox1 <= x0]
    return x0 + (x0 - max(left)) if left else page_right


def _extent(region: Region) -> Extent:
    boxes = [box for column in region for box in column]
    return (min(b.x0 for b in boxes), max(b.x1 for b in boxes),
            min(b.y0 for b in boxes), max(b.y1 for b in boxes))  # fmt: skip


def _region_drafts(
    rows: list[Row],
    page: Page,
    ref: Reading,
    *,
    whole_page: bool,
    above: Sequence[Draft],
    spacers: Sequence[OcrLine] = (),
) -> list[Draft]:
    """Shows of one region (a card, a pane, a column); its own heading names its venue.

    A region with a Day | Time | Host header goes to the pane reader, any other to the flow reader.
    """
    pane = find_table_header(rows, need_venue=False)
    if not whole_page:
        heading = venue_heading(rows, ref)
        page = replace(page, venue=heading.venue, heading=heading)
    if pane is not None:
        return pane_drafts(rows, pane, page, ref)
    return flow_drafts(rows, page, ref, above, spacers)


def _all_region_drafts(
    regions: Sequence[Region],
    page: Page,
    ref: Reading,
    marks: Sequence[DayMark],
    content: Callable[[OcrLine], bool],
    tabs: DayTabs | None = None,
) -> list[Draft]:
    """Shows of every region; a region of cards without a day continues the column above it.

    That column is the region right above it that found shows, else the day header above
    it, else the selected day tab above it.
    """
    read: list[tuple[tuple[float, float, float], list[Draft]]] = []
    extents = [_extent(region) for region in regions]
    page_right = max((x1 for _, x1, _, _ in extents), default=0.0)
    for index, (region, (x0, x1, y0, y1)) in enumerate(zip(regions, extents, strict=True)):
        boxes = [box for column in region for box in column]
        above = next(
            (
                found
                for (ax0, ax1, ay0), found in reversed(read)
                if found and ay0 < y0 and ax0 < x1 and x0 < ax1
            ),
            [],
        )
        header = mark_above(marks, x0, x1, y0) if not above else None
        if not above and header is None and tabs is not None and tabs.day and y1 > tabs.bottom:
            header = LineFields(days=(tabs.day,))
        if header is not None:
            above = [Draft(header, 1.0, karaoke_line=page.karaoke)]
        rows = _rows(region, content, _right_edge(index, extents, page_right))
        spacers = [box for box in boxes if not content(box)]
        found = _region_drafts(rows, page, ref, whole_page=len(regions) == 1, above=above, spacers=spacers)
        read.append(((x0, x1, y0), found))
    return [draft for _, found in read for draft in found]


def parse_schedule(lines: Sequence[OcrLine], *, today: dt.date | None = None) -> ParsedSchedule:
    """Read the shows, venues, DJs and vendor out of one screenshot's OCR boxes.

    ``today`` is the reference day of dates without a year ('Sat 6/27'); a year
    printed elsewhere on the page wins. A page is cut into regions (columns,
    cards, panes) first, each read on its own. A page with nothing about karaoke
    yields an empty schedule.
    """
    tagged = tag_page(lines)  # 1. what each line is; noise and chips gone
    ref = Reading(today or dt.date.today(), find_page_year([line.text for line in tagged.lines]))
    rows = group_rows(tagged.content)  # 2. layout: rows of everything but chrome
    page = read_page(rows, ref, karaoke=tagged.karaoke)
    header = find_table_header(rows)
    if header is not None:  # 3. readers: the whole page is one table ...
        drafts = table_drafts(rows, header[0], header[1], ref)
    else:  # ... or regions, each read as a pane or a flow
        regions = cut_regions(
            tagged.geometry, lambda boxes: _side_kind(boxes, tagged.tabs), tagged.is_day_label
        )
        marks = day_marks(tagged.lines, ref)
        drafts = _all_region_drafts(
            regions, page, ref, marks, lambda line: not tagged.is_chrome(line), tagged.tabs
        )
    if not page.karaoke and any(mentions_other_event(row.text) for row in rows):
        return no_shows(page)
    return assemble(drafts, page)  # 4. one show per day, each venue and DJ once
