"""Rule-based parser: OCR text boxes of one screenshot -> a ParsedSchedule.

A page with a table header row (Day | Venue | Time | DJ ...) is read cell by
cell. Any other page is first cut into regions (card grid columns, cards, panes,
a week view's day columns; see ``regions``), and each region is read on its own:
a pane whose table has no venue column (Day | Time | Host) takes its title as
the venue of every row, everything else is read as a flow of lines (see
``flow``). Status bars, post timestamps, reaction counts and UI chrome are
dropped first; lines about trivia, specials or happy hour never become shows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

from pipeline.addresses import find_address, normalize_phone
from pipeline.backends.local.layout.regions import Region, cut_regions
from pipeline.backends.local.layout.rows import Row, group_rows
from pipeline.backends.local.layout.tables import (
    GRID_DAY,
    Column,
    find_table_header,
    table_cells,
    wrapped_cells_joined,
)
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.day_marks import DayMark, day_marks, mark_above
from pipeline.backends.local.readers.flow import (
    Draft,
    Page,
    Reading,
    flow_drafts,
    is_heading,
    read_page,
    venue_heading,
)
from pipeline.backends.local.readers.pane import pane_rows
from pipeline.backends.local.tagging.chrome import is_chrome, is_overlay, tag_row_mates
from pipeline.backends.local.tagging.fields import (
    LineFields,
    is_noise,
    mentions_karaoke,
    mentions_other_event,
    strip_dj_prefix,
)
from pipeline.clean import dj_key, normalize_time_range, venue_key
from pipeline.dates import (
    find_date,
    find_day_phrases,
    find_page_year,
    stray_marks_dropped,
    unglue_days,
    zeros_in_clocks,
)
from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue, Weekday

__all__ = ["parse_schedule"]

_EPOCH = dt.date(2000, 1, 1)  # any date: only whether a date is present matters
_BARE_CLOCK = re.compile(r"^(?:1[0-2]|0?[1-9]):[0-5]\d$")  # '9:41' alone: a status bar, or a wrapped cell
_CARD_LINES = 2  # lines of words (a name, a street, a credit) that make a time without a day a card
_DAY_WORDS = re.compile(
    r"\b(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?s?\b|\d{1,2}/\d{1,2}",
    re.IGNORECASE,
)


def _table_row_fields(cells: dict[str, str], row: Row, ref: Reading) -> LineFields:
    """Fields of one table row; day and time fall back to the whole row's text."""
    whole = ref.fields(row.text)
    day_cell = ref.fields(cells.get("day", ""))
    time_cell = normalize_time_range(cells.get("time", ""))
    dj_text = cells.get("dj", "").strip()
    address_text = ", ".join(filter(None, (cells.get("address"), cells.get("city"))))
    return LineFields(
        days=day_cell.days or whole.days,
        date=day_cell.date or whole.date,
        time=time_cell or whole.time,
        dj=strip_dj_prefix(dj_text) if dj_text else whole.dj,
        dj_as_seen=dj_text or whole.dj_as_seen,
        address=find_address(address_text) if address_text else whole.address,
        venue=_table_venue(cells, ref),
    )


def _table_venue(cells: dict[str, str], ref: Reading) -> str | None:
    """The venue cell, plus words a misplaced cell boundary gave to the day or time column."""
    parts = [ref.fields(cells.get(kind, "")).venue for kind in ("day", "venue", "time")]
    return " ".join(part for part in parts if part) or None


def _grid_drafts(body: Sequence[Row], columns: list[Column], ref: Reading) -> list[Draft]:
    """A weekly grid: each row's venue, one show per weekday column holding a time."""
    drafts: list[Draft] = []
    for row in body:
        cells = table_cells(row, columns, body)
        venue = ref.fields(cells.get("venue", "")).venue
        if venue is None or (mentions_other_event(row.text) and not mentions_karaoke(row.text)):
            continue
        for kind, text in cells.items():
            time = normalize_time_range(text) if kind.startswith(GRID_DAY) else None
            if time is not None:
                day = cast(Weekday, kind.removeprefix(GRID_DAY))
                fields = LineFields(days=(day,), time=time, venue=venue)
                drafts.append(Draft(fields, row.score, karaoke_line=True))
    return drafts


def _table_drafts(rows: Sequence[Row], start: int, columns: list[Column], ref: Reading) -> list[Draft]:
    body = [row for row in rows[start + 1 :] if not is_heading(row)]
    if any(column.kind.startswith(GRID_DAY) for column in columns):
        return _grid_drafts(body, columns, ref)
    body = wrapped_cells_joined(body)
    drafts: list[Draft] = []
    section = LineFields()  # a day row over the rows of that day ('TUESDAY' in a Venue | Time table)
    for row in body:
        fields = _table_row_fields(table_cells(row, columns, body), row, ref)
        if mentions_other_event(row.text) and not mentions_karaoke(row.text):
            continue
        if fields.has_days and fields.time is None and len(row.boxes) == 1:
            section = fields
            continue
        if not fields.has_days:
            fields = replace(fields, days=section.days, date=section.date)
        if fields.has_days and fields.venue:
            drafts.append(Draft(fields, row.score, karaoke_line=mentions_karaoke(row.text)))
    return drafts


def _confidence(draft: Draft, page: Page) -> float:
    """Lower when parts are missing, the venue was borrowed or nothing says karaoke."""
    confidence = 0.9 * draft.score
    if draft.fields.time is None:
        confidence -= 0.25
    if draft.fields.dj is None:
        confidence -= 0.05
    if draft.borrowed_venue:
        confidence -= 0.2
    if not (page.karaoke or draft.karaoke_line or draft.fields.dj):
        confidence -= 0.2
    return round(min(max(confidence, 0.05), 1.0), 3)


def _shows(draft: Draft, page: Page) -> list[Show]:
    fields = draft.fields
    days: Sequence[Weekday | None] = fields.days or (None,)
    return [
        Show(
            venue_name=fields.venue or "",
            day=day,
            date=fields.date,
            start_time=fields.time.start if fields.time else None,
            end_time=fields.time.end if fields.time else None,
            time=fields.time.text if fields.time else None,
            dj_name=fields.dj,
            vendor=page.vendor,
            description="; ".join(fields.notes) or None,
            confidence=_confidence(draft, page),
        )
        for day in days
    ]


def _venue(fields: LineFields, confidence: float) -> Venue:
    address = fields.address
    return Venue(
        name=fields.venue or "",
        address=address.street if address else None,
        city=address.city if address else None,
        state=address.state if address else None,
        zip=address.zip if address else None,
        phone=normalize_phone(fields.phone) if fields.phone else None,
        confidence=confidence,
    )


def _assemble(drafts: Sequence[Draft], page: Page) -> ParsedSchedule:
    """Shows, one per day, plus the venues, DJs and vendor they mention (each once)."""
    shows: list[Show] = []
    venues: dict[str, Venue] = {}
    djs: dict[str, Dj] = {}
    for draft in drafts:
        if not draft.fields.venue or draft.fields.time is None:
            continue  # a show needs a venue and a time; a day alone is a hint ('Also every day')
        made = _shows(draft, page)
        shows += made
        venue = _venue(draft.fields, made[0].confidence)
        if venue.address or venue_key(venue.name) not in venues:
            venues[venue_key(venue.name)] = venue
        if draft.fields.dj and dj_key(draft.fields.dj) not in djs:
            seen = draft.fields.dj_as_seen
            aliases = [seen] if seen and seen != draft.fields.dj else []
            djs[dj_key(draft.fields.dj)] = Dj(name=draft.fields.dj, aliases=aliases, confidence=0.8)
    vendors = [Vendor(name=page.vendor, confidence=0.8)] if page.vendor else []
    return ParsedSchedule(vendors=vendors, venues=list(venues.values()), djs=list(djs.values()), shows=shows)


def _side_kind(boxes: Sequence[OcrLine]) -> str:
    """For the XY-cut: 'schedule' (a day and a time), 'none' (neither) or 'part' (a table column).

    A time with at least two lines of words beside it but no day is 'card': a card whose
    day OCR lost, which a gutter still parts from a schedule beside it.
    """
    text = " ".join(box.text for box in boxes)
    day = bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None
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


def _is_day_label(box: OcrLine) -> bool:
    """A box that only names a day or a date ('WEDNESDAY WED', '12/16'): a week view's header."""
    text = box.text
    day = bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None
    leftover = re.sub(r"[^A-Za-z]", "", _DAY_WORDS.sub("", text))
    return day and not leftover and normalize_time_range(text) is None


def _pane_drafts(
    rows: Sequence[Row], header: tuple[int, list[Column]], page: Page, ref: Reading
) -> list[Draft]:
    """A pane's Day / Time / Host table: its title (and address) carried down to every row."""
    index, columns = header
    title = venue_heading(rows[:index], ref)
    venue = title.venue or page.venue
    if venue is None:
        return []
    drafts: list[Draft] = []
    for pane_row in pane_rows(rows[index + 1 :], columns):
        cells = pane_row.cells
        day = ref.fields(cells.get("day", ""))
        time = normalize_time_range(cells.get("time", ""))
        dj_text = cells.get("dj", "").strip()
        if not day.has_days or time is None:
            continue  # a hint such as 'Also every day' under the table
        fields = replace(
            title,
            days=day.days,
            date=day.date,
            time=time,
            dj=strip_dj_prefix(dj_text) if dj_text else None,
            dj_as_seen=dj_text or None,
            venue=venue,
            notes=day.notes,
        )
        drafts.append(Draft(fields, pane_row.score))
    return drafts


def _rows(columns: Region, keep: Callable[[OcrLine], bool] = lambda box: True) -> list[Row]:
    """A region's rows, column after column."""
    return [row for column in columns for row in group_rows([box for box in column if keep(box)])]


def _region_drafts(
    region: Region, page: Page, ref: Reading, *, whole_page: bool, above: Sequence[Draft] = ()
) -> list[Draft]:
    """Shows of one region (a card, a pane, a column); its own heading names its venue."""
    rows = _rows(region, lambda box: not is_chrome(box.text))
    pane = find_table_header(rows, need_venue=False)
    if not whole_page:
        heading = venue_heading(rows, ref)
        page = replace(page, venue=heading.venue, heading=heading)
    if pane is not None:
        return _pane_drafts(rows, pane, page, ref)
    return flow_drafts(rows, page, ref, above)


def _all_region_drafts(
    regions: Sequence[Region], page: Page, ref: Reading, marks: Sequence[DayMark]
) -> list[Draft]:
    """Shows of every region; a region of cards without a day continues the column above it.

    That column is the region right above it that found shows, else the day header above it.
    """
    read: list[tuple[tuple[float, float, float], list[Draft]]] = []
    for region in regions:
        boxes = [box for column in region for box in column]
        x0, x1, y0 = min(b.x0 for b in boxes), max(b.x1 for b in boxes), min(b.y0 for b in boxes)
        above = next(
            (
                found
                for (ax0, ax1, ay0), found in reversed(read)
                if found and ay0 < y0 and ax0 < x1 and x0 < ax1
            ),
            [],
        )
        header = mark_above(marks, x0, x1, y0) if not above else None
        if header is not None:
            above = [Draft(header, 1.0, karaoke_line=page.karaoke)]
        found = _region_drafts(region, page, ref, whole_page=len(regions) == 1, above=above)
        read.append(((x0, x1, y0), found))
    return [draft for _, found in read for draft in found]


def _ocr_slips_undone(text: str) -> str:
    """A box's text with OCR's usual slips in times and days undone ('9:OOPM M - CLOSE')."""
    return unglue_days(stray_marks_dropped(zeros_in_clocks(text)))


def _is_text(line: OcrLine, lines: Sequence[OcrLine]) -> bool:
    """Not noise; a bare clock is a phone's status bar only in the page's top row.

    Lower down it is a table cell's time that wrapped ('10:00' over 'PM - 1:00 AM').
    """
    if not line.text.strip():
        return False
    if _BARE_CLOCK.match(line.text.strip()):
        return any(other.y1 <= line.y0 for other in lines)
    return not is_noise(line.text)


def parse_schedule(lines: Sequence[OcrLine], *, today: dt.date | None = None) -> ParsedSchedule:
    """Read the shows, venues, DJs and vendor out of one screenshot's OCR boxes.

    ``today`` is the reference day of dates without a year ('Sat 6/27'); a year
    printed elsewhere on the page wins. A page is cut into regions (columns,
    cards, panes) first, each read on its own. A page with nothing about karaoke
    yields an empty schedule.
    """
    text_lines = [replace(line, text=_ocr_slips_undone(line.text)) for line in lines if _is_text(line, lines)]
    chips = tag_row_mates(text_lines)
    text_lines = [line for line in text_lines if line not in chips]
    ref = Reading(today or dt.date.today(), find_page_year([line.text for line in text_lines]))
    karaoke = any(mentions_karaoke(line.text) for line in text_lines)
    content = [line for line in text_lines if not is_chrome(line.text)]
    rows = group_rows(content)
    page = replace(read_page(rows, ref), karaoke=karaoke)
    header = find_table_header(rows)
    if header is not None:
        drafts = _table_drafts(rows, header[0], header[1], ref)
    else:
        regions = cut_regions(
            [line for line in text_lines if not is_overlay(line.text)], _side_kind, _is_day_label
        )
        drafts = _all_region_drafts(regions, page, ref, day_marks(text_lines, ref))
    other_events = any(mentions_other_event(row.text) for row in rows)
    if other_events and not page.karaoke:
        return ParsedSchedule(vendors=[Vendor(name=page.vendor)] if page.vendor else [])
    return _assemble(drafts, page)
