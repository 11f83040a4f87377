"""Reading rows as a flow: a day line starts a show, the lines around it complete it.

A line that names a day (or a date) starts a show; the lines under it in the
same block (time, venue, DJ, address on a flyer) complete it, and lines above it
in the block (a venue heading) fill what it lacks. Blocks around a show fill it
too: a name block above it (an A-Z listing's venue), a block of small print far
below it (a flyer's DJ credit or its venue over the street line), and a card
under a day header takes that header's day (a week view). Hints, taglines and
shows marked with a 'CANCELLED' badge never become shows, nor the nights of a card
whose status over them says it is off ('Closed: private event', 'No karaoke tonight').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pipeline.backends.local.layout.rows import Row, split_blocks
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.readers.drafts import Draft, Page, Reading, merge, merge_all
from pipeline.backends.local.readers.page import is_heading
from pipeline.backends.local.tagging.fields import LineFields, is_sentence
from pipeline.backends.local.tagging.words import is_cancel_badge, is_other_event, mentions_karaoke
from pipeline.clean import clause_starts, normalize_time_range, split_clauses
from pipeline.dates import find_day_phrases

__all__ = ["block_drafts", "flow_drafts"]

_LIST_HEADING_SIZE = 0.75  # a line over the list in type this much smaller than the page's title heads it


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


def _prose_drafts(block: Sequence[Row], ref: Reading) -> list[Draft]:
    """Shows of a paragraph: the rows joined, then cut into one clause per show."""
    score = min(row.score for row in block)
    drafts: list[Draft] = []
    for clause in split_clauses(" ".join(row.text for row in block)):
        fields = ref.fields(clause)
        if not fields.has_days or is_other_event(clause):
            continue
        drafts.append(Draft(fields, score, karaoke_line=mentions_karaoke(clause)))
    return drafts


def _cancelled(rows: Sequence[Row]) -> bool:
    """A 'CANCELLED' badge of its own beside a show: the night is off (a note in brackets is kept)."""
    boxes = [box.text.strip() for row in rows for box in row.boxes]
    return any(is_cancel_badge(text) for text in boxes)


def block_drafts(block: Sequence[Row], ref: Reading) -> list[Draft]:
    """Shows of one block: each day line plus the lines under it, filled from lines above it."""
    if _is_prose(block):
        return _prose_drafts(block, ref)
    fields = [ref.fields(row.text) for row in block]
    starts = [i for i, f in enumerate(fields) if f.has_days]
    if not starts:
        return []
    preamble = merge_all(fields[: starts[0]])
    if _cancelled(block[: starts[0]]):
        return []  # a card whose status over its nights says it is off: 'Closed: private event'
    drafts: list[Draft] = []
    spans = [
        (day, listing)
        for day, end in zip(starts, [*starts[1:], len(block)], strict=True)
        for listing in _listings(fields, day, end)
    ]
    for day, (start, end) in spans:
        rows = block[start:end]
        text = " ".join(
            row.text
            for row, found in zip(rows, fields[start:end], strict=True)
            if found.has_days or found.time
        )
        if is_other_event(text) or _cancelled(rows):
            continue
        own = merge_all(fields[start:end])
        if start != day:
            own = replace(own, days=fields[day].days, date=fields[day].date)
        drafts.append(
            Draft(
                fields=merge(own, replace(preamble, notes=())),
                score=min(row.score for row in rows),
                borrowed_venue=own.venue is None and preamble.venue is not None,
                karaoke_line=mentions_karaoke(text),
            )
        )
    return _shared_venue(drafts) if preamble.venue is None else drafts


def _listings(fields: Sequence[LineFields], start: int, end: int) -> list[tuple[int, int]]:
    """One day's rows cut into its listings: a name line over a time line starts one.

    Only once the listing above has its venue and time: 'SUNDAY' / 'Spinnaker Grill' /
    '10pm-2am' / 'Mesa' / 'The Dugout' / '9:00 PM-close' is two shows (a week view's day).
    """

    def name_only(line: LineFields) -> bool:
        return bool(line.venue) and not (line.time or line.has_days or line.address or line.phone or line.dj)

    cuts = [start]
    for index in range(start + 1, end - 1):
        below = fields[index + 1]
        if not (name_only(fields[index]) and below.time and below.venue is None):
            continue
        first = index  # a name on two lines ('Gator's Sports' / 'Bar') starts at its first,
        while (  # but the line under a time or a host is the card above's city
            first - 1 > cuts[-1]
            and name_only(fields[first - 1])
            and not (fields[first - 2].time or fields[first - 2].dj)
        ):
            first -= 1
        above = merge_all(fields[cuts[-1] : first])
        if above.venue and above.time:
            cuts.append(first)
    return list(zip(cuts, [*cuts[1:], end], strict=True))


def _shared_venue(drafts: list[Draft]) -> list[Draft]:
    """A card's nights above its venue line ('TUESDAYS ...', 'EVERY FRIDAY ...', then the name)."""
    named = [draft for draft in drafts if draft.fields.venue]
    if not named or len(named) == len(drafts):
        return drafts
    venue = named[-1].fields
    return [
        draft
        if draft.fields.venue
        else replace(
            draft,
            fields=replace(draft.fields, venue=venue.venue, address=draft.fields.address or venue.address),
        )
        for draft in drafts
    ]


def _before_in_one_cell(text: str, first: str, second: str) -> bool:
    """``first`` comes before ``second`` in ``text`` with no cell gap (' | ') between them."""
    start, end = text.find(first), text.find(second)
    return 0 <= start < end and " | " not in text[start:end]


def _anchored_venue(rows: Sequence[Row], ref: Reading) -> LineFields | None:
    """The name line right above a street or phone line (a flyer's small print), with that address."""
    fields = [ref.fields(row.text) for row in rows]
    for index, found in enumerate(fields):
        if not (found.address or found.phone) or found.has_days or found.time:
            continue
        text = rows[index].text
        if found.venue and found.address and _before_in_one_cell(text, found.venue, found.address.text):
            return found  # 'Kelley's Pub, 500 Broad St' on one line
        for above in reversed(fields[max(0, index - 2) : index]):
            if above.venue and not (above.has_days or above.time or above.dj or above.address):
                return replace(above, address=found.address, phone=found.phone, notes=())
    return None


def _small_print_venue(drafts: list[Draft], idle: Sequence[Row], ref: Reading) -> list[Draft]:
    """One venue's shows renamed after the name over a street in a block apart ('LIVE AT' small print).

    A flyer sets its company's brand and slogan large over the night and its venue in
    small print over the street: the name over the street is the venue, not the large
    line the night's block read as one. Only when the shows name a single venue without
    an address of their own, and the small print gave no show of its own.
    """
    venues = {draft.fields.venue for draft in drafts}
    if len(venues) != 1 or any(draft.fields.address for draft in drafts):
        return drafts
    anchored = _anchored_venue(idle, ref)
    if anchored is None or anchored.venue in venues:
        return drafts
    return [
        replace(draft, fields=replace(draft.fields, venue=anchored.venue, address=anchored.address))
        for draft in drafts
    ]


def _filled_from(drafts: list[Draft], block: Sequence[Row], ref: Reading) -> list[Draft]:
    """Shows of the block above completed by a block without days ('with KJ Kat' far below)."""
    extra = merge_all([ref.fields(row.text) for row in block])
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


def _is_hint(row: Row, ref: Reading) -> bool:
    """A tagline or hint ('Call for details', 'Also every day'): a sentence with no time or address.

    A monthly rule reads as a sentence too ('Second Monday of every month ·') but is a show's day.
    """
    if not is_sentence(row.text) or _cancelled([row]):
        return False
    if any(phrase.monthly for phrase in find_day_phrases(row.text)):
        return False
    found = ref.fields(row.text)
    return not (found.time or found.address or found.phone or found.dj)


def _under_day_header(previous: Sequence[Draft], block: Sequence[Row], ref: Reading) -> list[Draft]:
    """A block naming its own venue and time but no day: the next card under a day header.

    It takes the day (or date) of the show above it, as a week view's column does; a
    block of several cards gives one show per card, and a card with a 'CANCELLED' badge
    is not a show.
    """
    if not previous or not block:
        return []
    fields = [ref.fields(row.text) for row in block]
    whole = merge_all(fields)
    if fields[0].venue is None or fields[0].time or whole.time is None or whole.has_days:
        return []
    drafts: list[Draft] = []
    for start, end in _listings(fields, 0, len(block)):
        if _cancelled(block[start:end]):
            continue
        card = replace(
            merge_all(fields[start:end]), days=previous[0].fields.days, date=previous[0].fields.date
        )
        score = min(row.score for row in block[start:end])
        drafts.append(Draft(card, score, karaoke_line=previous[0].karaoke_line))
    return drafts


def _name_block(block: Sequence[Row], ref: Reading) -> LineFields | None:
    """A block that only names a venue: the heading of the show in the next block."""
    fields = [ref.fields(row.text) for row in block]
    named = [found for found in fields if found.venue]
    if len(named) != 1 or any(found.time or found.dj or found.has_days for found in fields):
        return None
    return replace(merge_all(fields), venue=named[0].venue, notes=())


def _day_only(block: Sequence[Row], ref: Reading, day: list[Draft]) -> list[Draft]:
    """The day of a block that gave no show (a cancelled card): the day of the cards under it."""
    for row in block:
        found = ref.fields(row.text)
        if found.has_days:
            karaoke = bool(day) and day[0].karaoke_line
            return [Draft(LineFields(days=found.days, date=found.date), 1.0, karaoke_line=karaoke)]
    return []


def _with_venue(draft: Draft, heading: LineFields) -> Draft:
    if draft.fields.venue is not None:
        return draft
    fields = replace(draft.fields, venue=heading.venue, address=draft.fields.address or heading.address)
    return replace(draft, fields=fields)


def _under_the_page_title(drafts: list[Draft], rows: Sequence[Row], page: Page, ref: Reading) -> list[Draft]:
    """A venue's own page: every show read its venue from one line of its own over the list
    ('Sing Here'), while the page, holding one street at most, names its venue in far larger
    type above it: that line heads the list, the page's title names the venue."""
    names = {draft.fields.venue for draft in drafts}
    if page.venue is None or len(names) != 1 or None in names or page.venue in names:
        return drafts
    (name,) = names
    lone = [row.type_size for row in rows if row.text.strip() == name]
    title = [row.type_size for row in rows if ref.fields(row.text).venue == page.venue]
    streets = sum(ref.fields(row.text).address is not None for row in rows)
    if not lone or not title or streets > 1 or max(lone) >= _LIST_HEADING_SIZE * max(title):
        return drafts
    return [
        replace(draft, fields=replace(draft.fields, venue=page.venue, address=page.heading.address))
        for draft in drafts
    ]


def flow_drafts(
    rows: Sequence[Row],
    page: Page,
    ref: Reading,
    above: Sequence[Draft] = (),
    spacers: Sequence[OcrLine] = (),
) -> list[Draft]:
    """Shows of rows read as a flow; ``above`` is the last show of the region right above,
    ``spacers`` the chrome between its rows (a card's tag chips: they keep the card one block)."""
    content = [row for row in rows if not is_heading(row) and not _is_hint(row, ref)]
    drafts: list[Draft] = []
    day: list[Draft] = list(above[-1:])  # what a card without a day under it takes its day from
    pending: list[Row] = []  # a block that only names a venue, over the next show ('Harbor House')
    idle: list[Row] = []  # rows of blocks that gave no show of their own
    for block in split_blocks(content, spacers):
        found = (
            block_drafts(block, ref)
            or _under_day_header(day, block, ref)
            or _under_day_header(day, [*pending, *block], ref)
        )
        name = _name_block(pending, ref) if pending else None
        if found and name is not None:
            found = [_with_venue(draft, name) for draft in found]
        pending = block if not found and _name_block(block, ref) is not None else []
        idle += [] if found else block
        drafts = drafts + found if found else drafts[:-1] + _filled_from(drafts[-1:], block, ref)
        day = found[-1:] or _day_only(block, ref, day) or drafts[-1:] or day
    drafts = _under_the_page_title(drafts, content, page, ref)
    if page.venue is None and any(draft.fields.venue is None for draft in drafts):
        anchored = _anchored_venue(content, ref)
        if anchored is not None:
            page = replace(page, venue=anchored.venue, heading=anchored)
    elif drafts and page.heading.address is None:  # no heading, or one not over its street
        drafts = _small_print_venue(drafts, idle, ref)
    if page.venue is None:
        return drafts
    return [
        replace(
            draft, fields=merge(replace(draft.fields, venue=page.venue), page.heading), borrowed_venue=True
        )
        if draft.fields.venue is None
        else draft
        for draft in drafts
    ]
