"""Normalisation of times, days, dates, names and addresses, shared by every backend.

Days and dates live in ``pipeline.dates``, addresses in ``pipeline.addresses``; both
are re-exported here.

Pure functions only: no Ray, no I/O, imports in milliseconds. The ``find_*``
helpers search free text and return what they matched (``text``) so the rule
parser can cut it out of a line; the ``parse_*``/``normalize_*`` helpers turn
one value into its canonical form. ``clean_schedule`` is applied to every
backend's raw output.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import NamedTuple

from pipeline.addresses import (
    Address,
    find_address,
    normalize_phone,
    normalize_state,
    split_address,
)
from pipeline.dates import (
    DateMatch,
    DayMatch,
    find_date,
    find_day_phrases,
    find_page_year,
    parse_date,
    parse_days,
)
from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue

__all__ = [
    "Address",
    "DateMatch",
    "DayMatch",
    "TimeRange",
    "clause_starts",
    "clean_schedule",
    "dj_key",
    "find_address",
    "find_date",
    "find_day_phrases",
    "find_page_year",
    "normalize_phone",
    "normalize_state",
    "normalize_time_range",
    "parse_date",
    "parse_days",
    "parse_time",
    "split_address",
    "split_clauses",
    "venue_key",
]

_LEADING_ARTICLE = re.compile(r"^(the)\s+")
_DJ_PREFIX = re.compile(r"^(?:(?:dj|kj|host(?:ed by)?|with|w/)\s+)+")


def _fold(text: str) -> str:
    """Lower-case, strip accents, turn punctuation into spaces, squeeze spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("&", " and ").replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def venue_key(name: str) -> str:
    """Matching key of a venue name: folded, no leading 'The', no spaces."""
    return _LEADING_ARTICLE.sub("", _fold(name)).replace(" ", "")


def dj_key(name: str) -> str:
    """Matching key of a DJ name: drops DJ/KJ/host/with/@ prefixes, folded."""
    folded = _fold(name.lstrip("@"))
    return _DJ_PREFIX.sub("", folded).replace(" ", "")


# --- times -------------------------------------------------------------------

_MERIDIEM = r"(?:[ap]\.?\s?m\b\.?|[ap](?![a-z]))"
_CLOCK = rf"(?:\d{{1,2}}(?:[:.]\d{{2}})?\s*{_MERIDIEM}?|midnight|noon)"
_OPEN_END = r"(?:close|closing|[l1I|]ate|cl)"  # OCR reads 'late' as 'Iate' now and then
_RANGE_SEP = r"\s*(?:[-\u2013\u2014~]|\bto\b|\btill?\b|'til\b|\buntil\b|\bthru\b)\s*"
_TIME_RANGE = re.compile(
    rf"(?<![\w:.$/])(?P<start>{_CLOCK}){_RANGE_SEP}(?P<end>{_CLOCK}|{_OPEN_END})(?![\w:/])",
    re.IGNORECASE,
)
_SINGLE_TIME = re.compile(
    rf"(?<![\w:.$/])(?:\d{{1,2}}(?:[:.]\d{{2}})?\s*{_MERIDIEM}|\d{{1,2}}:\d{{2}}(?![\d:])|midnight|noon)"
    r"(?![\w/])",
    re.IGNORECASE,
)
_CLOCK_PARTS = re.compile(
    r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s*(?:(?P<meridiem>[ap])\.?\s?m?\.?)?$",
    re.IGNORECASE,
)


class TimeRange(NamedTuple):
    """A start and optional end as ``HH:MM``, and the text they were read from."""

    start: str | None
    end: str | None
    text: str


class _Clock(NamedTuple):
    """One written time before the meridiem is settled; ``fixed`` means unambiguous."""

    hour: int
    minute: int
    fixed: bool


def _read_clock(token: str) -> _Clock | None:
    """Parse '9', '9pm', '9:30 PM', '21:00', 'midnight'; None when out of range."""
    token = token.strip().lower()
    if token in ("midnight", "noon"):
        return _Clock(0 if token == "midnight" else 12, 0, True)
    parts = _CLOCK_PARTS.match(token)
    if parts is None:
        return None
    hour, minute = int(parts["hour"]), int(parts["minute"] or 0)
    if minute > 59:
        return None
    if parts["meridiem"]:
        if not 1 <= hour <= 12:
            return None
        return _Clock(hour % 12 + (12 if parts["meridiem"] == "p" else 0), minute, True)
    if hour > 24 or (hour == 24 and minute):
        return None
    is_24_hour = hour == 0 or hour >= 13 or (parts["minute"] is not None and token[0] == "0")
    return _Clock(hour % 24, minute, is_24_hour)


def _hhmm(hour: int, minute: int) -> str:
    return f"{hour % 24:02d}:{minute:02d}"


def _minutes_after(start: tuple[int, int], end: tuple[int, int]) -> int:
    """Minutes from start to end, wrapping past midnight; 0 counts as a full day."""
    gap = (end[0] * 60 + end[1] - start[0] * 60 - start[1]) % (24 * 60)
    return gap or 24 * 60


def _settle(clock: _Clock, anchor: tuple[int, int], *, before: bool) -> tuple[int, int]:
    """Pick am or pm for an ambiguous clock so the show is as short as possible."""
    if clock.fixed:
        return clock.hour, clock.minute
    options = [(clock.hour % 12, clock.minute), (clock.hour % 12 + 12, clock.minute)]
    if before:
        return min(options, key=lambda start: _minutes_after(start, anchor))
    return min(options, key=lambda end: _minutes_after(anchor, end))


def parse_time(text: str) -> str | None:
    """One time as ``HH:MM``: '9pm' -> '21:00', '9:30' -> '09:30'; bare '9' or '25:99' -> None."""
    clock = _read_clock(text)
    if clock is None or (not clock.fixed and ":" not in text and "." not in text):
        return None
    return _hhmm(clock.hour, clock.minute)


def _resolve_range(start_text: str, end_text: str) -> tuple[str, str | None] | None:
    """Start and end of a range; bare hours are read as evening ('8-12' -> 20:00-00:00)."""
    start = _read_clock(start_text)
    if start is None:
        return None
    if re.fullmatch(_OPEN_END, end_text.strip(), re.IGNORECASE):
        return _hhmm(*_settle(start, (0, 0), before=True)), None
    end = _read_clock(end_text)
    if end is None:
        return None
    if not start.fixed and end.fixed:
        start_at = _settle(start, (end.hour, end.minute), before=True)
    else:
        start_at = (start.hour, start.minute) if start.fixed else (start.hour % 12 + 12, start.minute)
    end_at = _settle(end, start_at, before=False)
    return _hhmm(*start_at), _hhmm(*end_at)


def normalize_time_range(text: str) -> TimeRange | None:
    """The first time range (or single time) in ``text``; ``.text`` is the part matched.

    '9PM-2AM' -> 21:00-02:00, '6- 9PM' -> 18:00-21:00, '9pm-close' -> 21:00-None,
    '7:00 PM' -> 19:00-None. A missing end is None, never '00:00'.
    """
    for match in _TIME_RANGE.finditer(text):
        resolved = _resolve_range(match["start"], match["end"])
        if resolved is not None:
            return TimeRange(resolved[0], resolved[1], match.group(0).strip())
    for match in _SINGLE_TIME.finditer(text):
        start = parse_time(match.group(0))
        if start is not None:
            return TimeRange(start, None, match.group(0).strip())
    return None


# --- clauses of running prose ---------------------------------------------------


def clause_starts(text: str) -> list[int]:
    """Offsets where a new show's clause begins in running prose (after the first one).

    A clause ends once it holds a day and a time; the next day phrase starts another.
    """
    starts: list[int] = []
    begin, seen_day = 0, False
    for phrase in find_day_phrases(text):
        if seen_day and normalize_time_range(text[begin : phrase.start]) is not None:
            starts.append(phrase.start)
            begin = phrase.start
        seen_day = True
    return starts


def split_clauses(text: str) -> list[str]:
    """Running prose cut into one clause per show, before each day phrase that starts a new one.

    'Wednesday at Kelley's Pub 8pm-12am, Thursday & Saturday at The Crescent
    Lounge 8pm-12am' -> two clauses; text before the first day phrase stays with
    the first clause.
    """
    cuts = [0, *clause_starts(text), len(text)]
    clauses = [text[first:last].strip(" ,;.") for first, last in itertools.pairwise(cuts)]
    return [clause for clause in clauses if clause]


# --- whole schedules -------------------------------------------------------------


def clean_name(text: str | None) -> str | None:
    """Squeeze spaces and strip separators and stray punctuation from both ends."""
    if text is None:
        return None
    squeezed = " ".join(text.split()).strip(" -|\u00b7\u2022:;,@")
    return squeezed or None


def _clean_show(show: Show) -> Show | None:
    """Trim fields, re-derive start/end from the time text, settle the day; None if no venue."""
    venue_name = clean_name(show.venue_name)
    if venue_name is None:
        return None
    seen = normalize_time_range(show.time) if show.time else None
    start = parse_time(show.start_time) if show.start_time else None
    end = parse_time(show.end_time) if show.end_time else None
    if seen is not None:
        start = start or seen.start
        end = end or seen.end
        if seen.end is None and seen.start is not None and end == "00:00":
            end = None  # the time text has no end: '00:00' is a placeholder, not midnight
    days = parse_days(str(show.day)) if show.day else []
    return show.model_copy(
        update={
            "venue_name": venue_name,
            "start_time": start,
            "end_time": end,
            "day": days[0] if days else None,
            "time": clean_name(show.time),
            "dj_name": clean_name(show.dj_name),
            "vendor": clean_name(show.vendor),
            "description": clean_name(show.description),
        }
    )


def _show_identity(show: Show) -> tuple[object, ...]:
    return (venue_key(show.venue_name), show.day, show.date, show.start_time, show.end_time,
            dj_key(show.dj_name or ""), show.time, show.vendor, show.description)  # fmt: skip


def _dedupe_shows(shows: list[Show]) -> list[Show]:
    """Exact repeats collapse into one, keeping the higher confidence and all sources."""
    kept: dict[tuple[object, ...], Show] = {}
    for show in shows:
        key = _show_identity(show)
        if key not in kept:
            kept[key] = show
            continue
        first = kept[key]
        sources = first.sources + [s for s in show.sources if s not in first.sources]
        confidence = max(first.confidence, show.confidence)
        kept[key] = first.model_copy(update={"sources": sources, "confidence": confidence})
    return list(kept.values())


def _clean_venue(venue: Venue) -> Venue | None:
    name = clean_name(venue.name)
    if name is None:
        return None
    state = normalize_state(venue.state) if venue.state else None
    phone = normalize_phone(venue.phone) if venue.phone else None
    return venue.model_copy(
        update={"name": name, "address": clean_name(venue.address), "city": clean_name(venue.city),
                "state": state, "zip": clean_name(venue.zip), "phone": phone}
    )  # fmt: skip


def _merge_venues(venues: list[Venue]) -> list[Venue]:
    """One venue per name key; later entries fill fields the first one lacks."""
    merged: dict[str, Venue] = {}
    for venue in venues:
        key = venue_key(venue.name)
        if key not in merged:
            merged[key] = venue
            continue
        first = merged[key]
        fills = {f: getattr(venue, f) for f in Venue.model_fields if getattr(first, f) is None}
        merged[key] = first.model_copy(update=fills)
    return list(merged.values())


def _merge_djs(djs: list[Dj]) -> list[Dj]:
    merged: dict[str, Dj] = {}
    for dj in djs:
        name = clean_name(dj.name.lstrip("@")) if dj.name else None
        if name is None:
            continue
        key = dj_key(name)
        first = merged.get(key, dj.model_copy(update={"name": name, "aliases": []}))
        aliases = [*first.aliases, *(a for a in dj.aliases if a not in first.aliases and a != name)]
        handles = [*first.social_handles, *(h for h in dj.social_handles if h not in first.social_handles)]
        merged[key] = first.model_copy(update={"aliases": aliases, "social_handles": handles})
    return list(merged.values())


def _merge_vendors(vendors: list[Vendor]) -> list[Vendor]:
    merged: dict[str, Vendor] = {}
    for vendor in vendors:
        name = clean_name(vendor.name)
        if name is not None:
            merged.setdefault(venue_key(name), vendor.model_copy(update={"name": name}))
    return list(merged.values())


def clean_schedule(schedule: ParsedSchedule) -> ParsedSchedule:
    """Normalise one image's raw output: trim names, settle times and days, drop and dedupe.

    Shows without a venue name are dropped; exact repeats within the image are merged.
    """
    shows = [cleaned for show in schedule.shows if (cleaned := _clean_show(show)) is not None]
    venues = [kept for venue in schedule.venues if (kept := _clean_venue(venue)) is not None]
    return ParsedSchedule(
        vendors=_merge_vendors(schedule.vendors),
        venues=_merge_venues(venues),
        djs=_merge_djs(schedule.djs),
        shows=_dedupe_shows(shows),
    )
