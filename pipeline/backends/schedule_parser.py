"""Rule-based parser: OCR text boxes of one screenshot -> a ParsedSchedule.

Three layouts are read. A *table* is recognised by its header row (Day | Venue
| Time | DJ ...) and read cell by cell. Everything else is read as a *flow* of
lines: a line that names a day (or a date) starts a show, the lines under it in
the same block (time, venue, DJ, address on a flyer) complete it, and lines
above it in the block (a venue heading) fill what it lacks. That covers one
show per line (``MONDAY - The Rusty Nail - 9PM-1AM - DJ Mike``) and centred
flyers alike. Status bars, post timestamps and reaction counts are dropped
first; lines about trivia, specials or happy hour never become shows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from pipeline.addresses import find_address, normalize_phone
from pipeline.backends.chrome import is_chrome, is_overlay
from pipeline.backends.layouts import (
    GRID_DAY,
    Column,
    OcrLine,
    Row,
    find_table_header,
    group_rows,
    split_blocks,
    table_cells,
)
from pipeline.backends.line_fields import (
    LineFields,
    is_noise,
    is_sentence,
    is_title,
    mentions_karaoke,
    mentions_other_event,
    read_fields,
    strip_dj_prefix,
    vendor_name,
)
from pipeline.backends.pane_tables import pane_rows
from pipeline.backends.regions import Region, cut_regions
from pipeline.clean import clause_starts, dj_key, normalize_time_range, split_clauses, venue_key
from pipeline.dates import find_date, find_day_phrases, find_page_year
from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue, Weekday

__all__ = ["OcrLine", "parse_schedule"]

_EPOCH = dt.date(2000, 1, 1)  # any date: only whether a date is present matters
_CANCEL_BADGE = re.compile(r"cancel+ed|no\s+show|off\s+this\s+week", re.IGNORECASE)


@dataclass(frozen=True)
class _Reading:
    """What every line is read against: the reference day and a year the page prints."""

    today: dt.date
    year: int | None = None

    def fields(self, text: str) -> LineFields:
        return read_fields(text, self.today, self.year)


@dataclass(frozen=True)
class _Draft:
    """One show line's fields before it is expanded into one Show per day."""

    fields: LineFields
    score: float
    borrowed_venue: bool = False
    karaoke_line: bool = False


@dataclass(frozen=True)
class _Page:
    """What the whole page says once: its vendor, whether it is about karaoke, a venue heading."""

    vendor: str | None
    karaoke: bool
    venue: str | None
    heading: LineFields = field(default_factory=LineFields)
    """Everything read above the first show (the heading venue's address and phone)."""


def _merge(first: LineFields, other: LineFields) -> LineFields:
    """``first`` with its missing parts taken from ``other``."""
    return replace(
        first,
        days=first.days or other.days,
        date=first.date or other.date,
        time=first.time or other.time,
        dj=first.dj or other.dj,
        dj_as_seen=first.dj_as_seen if first.dj else other.dj_as_seen,
        address=first.address or other.address,
        phone=first.phone or other.phone,
        venue=first.venue or other.venue,
        notes=first.notes + other.notes,
    )


def _merge_all(fields: Sequence[LineFields]) -> LineFields:
    merged = LineFields()
    for part in fields:
        merged = _merge(merged, part)
    return merged


def _is_heading(row: Row) -> bool:
    """Rows that frame the schedule (titles, vendor credits), never part of a show."""
    return is_title(row.text) or vendor_name(row.text) is not None


def _venue_heading(rows: Sequence[Row], ref: _Reading) -> LineFields:
    """A venue named above the first show ('Oties Tavern & Grill' over its weekly nights).

    Of the name lines above the first show, the one right above a street or phone
    line wins, else the one in the largest type (a pane's title over a site's small
    brand name); its address and phone are taken from the rows under it.
    """
    candidates: list[tuple[Row, LineFields]] = []
    for row in rows:
        if _is_heading(row) or row.text.rstrip().endswith((":", "!")) or mentions_karaoke(row.text):
            continue
        fields = ref.fields(row.text)
        if fields.has_days or mentions_other_event(row.text):
            break
        candidates.append((row, fields))
    named = [(row, fields) for row, fields in candidates if fields.venue]
    if not named:
        return LineFields()
    tallest = max(row.height for row, _ in named)
    anchored = [
        index
        for index, (_, fields) in enumerate(candidates)
        if fields.venue
        and not fields.address
        and any(f.address or f.phone for _, f in candidates[index + 1 : index + 3])
    ]
    chosen = (
        anchored[0]
        if anchored
        else next(
            index
            for index, (row, fields) in enumerate(candidates)
            if fields.venue and row.height >= 0.9 * tallest
        )
    )
    heading = candidates[chosen][1]
    for _, fields in candidates[chosen + 1 :]:
        heading = replace(
            heading, address=heading.address or fields.address, phone=heading.phone or fields.phone
        )
    return replace(heading, notes=())


def _read_page(rows: Sequence[Row], ref: _Reading) -> _Page:
    vendors = [name for row in rows if (name := vendor_name(row.text))]
    karaoke = any(mentions_karaoke(row.text) for row in rows)
    heading = _venue_heading(rows, ref)
    return _Page(vendors[0] if vendors else None, karaoke, heading.venue, heading)


def _is_prose(block: Sequence[Row]) -> bool:
    """Running text: a row ends one show's clause (its time) and starts the next one's.

    'Euchre League - Mondays 7pm' is not prose: nothing with a time precedes its day.
    """
    for row in block:
        for start in clause_starts(row.text):
            if normalize_time_range(row.text[:start]) is not None:
                return True
    text, offset, row_starts = " ".join(row.text for row in block), 0, []
    for row in block:
        row_starts.append(offset)
        offset += len(row.text) + 1
    for start in clause_starts(text):
        row_start = max(first for first in row_starts if first <= start)
        if start != row_start and normalize_time_range(text[row_start:start]) is not None:
            return True
    return False


def _prose_drafts(block: Sequence[Row], ref: _Reading) -> list[_Draft]:
    """Shows of a paragraph: the rows joined, then cut into one clause per show."""
    score = min(row.score for row in block)
    drafts: list[_Draft] = []
    for clause in split_clauses(" ".join(row.text for row in block)):
        fields = ref.fields(clause)
        if not fields.has_days or (mentions_other_event(clause) and not mentions_karaoke(clause)):
            continue
        drafts.append(_Draft(fields, score, karaoke_line=mentions_karaoke(clause)))
    return drafts


def _cancelled(rows: Sequence[Row]) -> bool:
    """A 'CANCELLED' badge of its own beside a show: the night is off (a note in brackets is kept)."""
    return any(_CANCEL_BADGE.fullmatch(box.text.strip()) for row in rows for box in row.boxes)


def _block_drafts(block: Sequence[Row], ref: _Reading) -> list[_Draft]:
    """Shows of one block: each day line plus the lines under it, filled from lines above it."""
    if _is_prose(block):
        return _prose_drafts(block, ref)
    fields = [ref.fields(row.text) for row in block]
    starts = [i for i, f in enumerate(fields) if f.has_days]
    if not starts:
        return []
    preamble = _merge_all(fields[: starts[0]])
    drafts: list[_Draft] = []
    for start, end in zip(starts, [*starts[1:], len(block)], strict=True):
        rows = block[start:end]
        text = " ".join(
            row.text
            for row, found in zip(rows, fields[start:end], strict=True)
            if found.has_days or found.time
        )
        if (mentions_other_event(text) and not mentions_karaoke(text)) or _cancelled(rows):
            continue
        own = _merge_all(fields[start:end])
        drafts.append(
            _Draft(
                fields=_merge(own, replace(preamble, notes=())),
                score=min(row.score for row in rows),
                borrowed_venue=own.venue is None and preamble.venue is not None,
                karaoke_line=mentions_karaoke(text),
            )
        )
    return drafts


def _anchored_venue(rows: Sequence[Row], ref: _Reading) -> LineFields | None:
    """The name line right above a street or phone line (a flyer's small print), with that address."""
    fields = [ref.fields(row.text) for row in rows]
    for index, found in enumerate(fields):
        if not (found.address or found.phone) or found.has_days or found.time:
            continue
        text = rows[index].text
        if found.venue and found.address and text.find(found.venue) < text.find(found.address.text):
            return found  # 'Kelley's Pub, 500 Broad St' on one line
        for above in reversed(fields[max(0, index - 2) : index]):
            if above.venue and not (above.has_days or above.time or above.dj or above.address):
                return replace(above, address=found.address, phone=found.phone, notes=())
    return None


def _filled_from(drafts: list[_Draft], block: Sequence[Row], ref: _Reading) -> list[_Draft]:
    """Shows of the block above completed by a block without days ('with KJ Kat' far below)."""
    extra = _merge_all([ref.fields(row.text) for row in block])
    if extra.has_days or (extra.dj is None and extra.time is None):
        return drafts
    return [
        replace(
            draft,
            fields=replace(
                draft.fields,
                dj=draft.fields.dj or extra.dj,
                dj_as_seen=draft.fields.dj_as_seen if draft.fields.dj else extra.dj_as_seen,
                time=draft.fields.time or extra.time,
            ),
        )
        for draft in drafts
    ]


def _is_hint(row: Row, ref: _Reading) -> bool:
    """A tagline or hint ('Call for details', 'Also every day'): a sentence with no time or address."""
    if not is_sentence(row.text):
        return False
    found = ref.fields(row.text)
    return not (found.time or found.address or found.phone or found.dj)


def _under_day_header(previous: Sequence[_Draft], block: Sequence[Row], ref: _Reading) -> list[_Draft]:
    """A block naming its own venue and time but no day: the next card under a day header.

    It takes the day (or date) of the show above it, as a week view's column does.
    """
    if not previous or not block:
        return []
    first = ref.fields(block[0].text)
    fields = _merge_all([first] + [ref.fields(row.text) for row in block[1:]])
    if first.venue is None or first.time or fields.time is None or fields.has_days:
        return []
    days = replace(fields, days=previous[0].fields.days, date=previous[0].fields.date)
    return [_Draft(days, min(row.score for row in block), karaoke_line=previous[0].karaoke_line)]


def _name_block(block: Sequence[Row], ref: _Reading) -> LineFields | None:
    """A block that only names a venue: the heading of the show in the next block."""
    fields = [ref.fields(row.text) for row in block]
    named = [found for found in fields if found.venue]
    if len(named) != 1 or any(found.time or found.dj or found.has_days for found in fields):
        return None
    return replace(_merge_all(fields), venue=named[0].venue, notes=())


def _with_venue(draft: _Draft, heading: LineFields) -> _Draft:
    if draft.fields.venue is not None:
        return draft
    fields = replace(draft.fields, venue=heading.venue, address=draft.fields.address or heading.address)
    return replace(draft, fields=fields)


def _flow_drafts(
    rows: Sequence[Row], page: _Page, ref: _Reading, above: Sequence[_Draft] = ()
) -> list[_Draft]:
    """Shows of rows read as a flow; ``above`` is the last show of the region right above."""
    content = [row for row in rows if not _is_heading(row) and not _is_hint(row, ref)]
    drafts: list[_Draft] = []
    pending: LineFields | None = None  # a name on its own above the next show ('Harbor House')
    for block in split_blocks(content):
        found = _block_drafts(block, ref) or _under_day_header(drafts[-1:] or above[-1:], block, ref)
        if found and pending is not None:
            found = [_with_venue(draft, pending) for draft in found]
        pending = _name_block(block, ref) if not found else None
        drafts = drafts + found if found else drafts[:-1] + _filled_from(drafts[-1:], block, ref)
    if page.venue is None and any(draft.fields.venue is None for draft in drafts):
        anchored = _anchored_venue(content, ref)
        if anchored is not None:
            page = replace(page, venue=anchored.venue, heading=anchored)
    if page.venue is None:
        return drafts
    return [
        replace(
            draft, fields=_merge(replace(draft.fields, venue=page.venue), page.heading), borrowed_venue=True
        )
        if draft.fields.venue is None
        else draft
        for draft in drafts
    ]


def _table_row_fields(cells: dict[str, str], row: Row, ref: _Reading) -> LineFields:
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


def _table_venue(cells: dict[str, str], ref: _Reading) -> str | None:
    """The venue cell, plus words a misplaced cell boundary gave to the day or time column."""
    parts = [ref.fields(cells.get(kind, "")).venue for kind in ("day", "venue", "time")]
    return " ".join(part for part in parts if part) or None


def _grid_drafts(body: Sequence[Row], columns: list[Column], ref: _Reading) -> list[_Draft]:
    """A weekly grid: each row's venue, one show per weekday column holding a time."""
    drafts: list[_Draft] = []
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
                drafts.append(_Draft(fields, row.score, karaoke_line=True))
    return drafts


def _table_drafts(rows: Sequence[Row], start: int, columns: list[Column], ref: _Reading) -> list[_Draft]:
    body = [row for row in rows[start + 1 :] if not _is_heading(row)]
    if any(column.kind.startswith(GRID_DAY) for column in columns):
        return _grid_drafts(body, columns, ref)
    drafts: list[_Draft] = []
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
            drafts.append(_Draft(fields, row.score, karaoke_line=mentions_karaoke(row.text)))
    return drafts


def _confidence(draft: _Draft, page: _Page) -> float:
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


def _shows(draft: _Draft, page: _Page) -> list[Show]:
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


def _assemble(drafts: Sequence[_Draft], page: _Page) -> ParsedSchedule:
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
    """For the XY-cut: 'schedule' (a day and a time), 'none' (neither) or 'part' (a table column)."""
    text = " ".join(box.text for box in boxes)
    day = bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None
    time = any(normalize_time_range(box.text) is not None for box in boxes)
    if day and time:
        return "schedule"
    if day and not time and len(boxes) <= 3:
        return "none"  # a week view's day header over 'No events'
    return "part" if day or time else "none"


def _pane_drafts(
    rows: Sequence[Row], header: tuple[int, list[Column]], page: _Page, ref: _Reading
) -> list[_Draft]:
    """A pane's Day / Time / Host table: its title (and address) carried down to every row."""
    index, columns = header
    title = _venue_heading(rows[:index], ref)
    venue = title.venue or page.venue
    if venue is None:
        return []
    drafts: list[_Draft] = []
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
        drafts.append(_Draft(fields, pane_row.score))
    return drafts


def _rows(columns: Region, keep: Callable[[OcrLine], bool] = lambda box: True) -> list[Row]:
    """A region's rows, column after column."""
    return [row for column in columns for row in group_rows([box for box in column if keep(box)])]


def _region_drafts(
    region: Region, page: _Page, ref: _Reading, *, whole_page: bool, above: Sequence[_Draft] = ()
) -> list[_Draft]:
    """Shows of one region (a card, a pane, a column); its own heading names its venue."""
    rows = _rows(region, lambda box: not is_chrome(box.text))
    pane = find_table_header(rows, need_venue=False)
    if not whole_page:
        heading = _venue_heading(rows, ref)
        page = replace(page, venue=heading.venue, heading=heading)
    if pane is not None:
        return _pane_drafts(rows, pane, page, ref)
    return _flow_drafts(rows, page, ref, above)


def _all_region_drafts(regions: Sequence[Region], page: _Page, ref: _Reading) -> list[_Draft]:
    """Shows of every region; a region of cards without a day continues the column above it."""
    read: list[tuple[tuple[float, float, float], list[_Draft]]] = []
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
        read.append(
            ((x0, x1, y0), _region_drafts(region, page, ref, whole_page=len(regions) == 1, above=above))
        )
    return [draft for _, found in read for draft in found]


def parse_schedule(lines: Sequence[OcrLine], *, today: dt.date | None = None) -> ParsedSchedule:
    """Read the shows, venues, DJs and vendor out of one screenshot's OCR boxes.

    ``today`` is the reference day of dates without a year ('Sat 6/27'); a year
    printed elsewhere on the page wins. A page is cut into regions (columns,
    cards, panes) first, each read on its own. A page with nothing about karaoke
    yields an empty schedule.
    """
    text_lines = [line for line in lines if line.text.strip() and not is_noise(line.text)]
    ref = _Reading(today or dt.date.today(), find_page_year([line.text for line in text_lines]))
    karaoke = any(mentions_karaoke(line.text) for line in text_lines)
    content = [line for line in text_lines if not is_chrome(line.text)]
    rows = group_rows(content)
    page = replace(_read_page(rows, ref), karaoke=karaoke)
    header = find_table_header(rows)
    if header is not None:
        drafts = _table_drafts(rows, header[0], header[1], ref)
    else:
        regions = cut_regions([line for line in text_lines if not is_overlay(line.text)], _side_kind)
        drafts = _all_region_drafts(regions, page, ref)
    other_events = any(mentions_other_event(row.text) for row in rows)
    if other_events and not page.karaoke:
        return ParsedSchedule(vendors=[Vendor(name=page.vendor)] if page.vendor else [])
    return _assemble(drafts, page)
