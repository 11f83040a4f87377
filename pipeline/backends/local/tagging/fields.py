"""What one line of schedule text says: days, date, time, venue, DJ, address, vendor.

``read_fields`` cuts each recognised part out of the line (date, address, phone,
time, days, DJ) and takes what is left, split on separators (' - ', ' | ', ':',
'@', 'at', parentheses), as the venue. The ``is_*`` helpers classify whole lines
a schedule carries around its shows: titles, taglines and vendor credits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pipeline.addresses import Address, find_address, find_phone
from pipeline.backends.local.tagging.chrome import is_ui_words, vendor_badge
from pipeline.backends.local.tagging.words import mentions_karaoke
from pipeline.clean import TimeRange, clean_name, find_date, find_day_phrases, normalize_time_range
from pipeline.matching import GENERIC_VENUE_WORDS
from pipeline.schema import WEEKDAYS, Weekday

__all__ = [
    "LineFields",
    "is_sentence",
    "is_title",
    "read_fields",
    "spaced_venue_name",
    "strip_dj_prefix",
    "vendor_name",
]

_NAME_WORD = r"[A-Z][\w'.&]*"
_DJ = re.compile(
    r"(?:\b(?i:with|w/|hosted\s+by|presented\s+by|host(?:ed)?:?)\s+)?\b(?P<prefix>(?i:dj|kj|vj))\.?:?\s+"
    rf"(?P<name>@?[A-Za-z][\w'.]*(?:\s+(?!(?i:at|and|on|from|of|the|karaoke)\b){_NAME_WORD}){{0,2}})"
    r"|\b(?i:with|w/|hosted\s+by|presented\s+by|host:)\s+(?P<plain>@?(?i:dj)\w+|@\w+|[A-Z][\w'.]*(?:\s+[A-Z][\w'.]*)?)"
)
_GLUED_PREFIX = re.compile(r"^(?:DJ|KJ)(?=[A-Z][a-z])")  # OCR lost the space: 'KJJuice'
_NO_HOST = {"tba", "tbd", "tbc", "none", "n/a", "-", "varies", "rotating", "various"}
_NOT_DJ_NAMES = {"night", "nights", "music", "party", "dance", "karaoke", "us", "friends"}
_DJ_PREFIX = re.compile(
    r"^(?:(?:with|w/|hosted\s+by|presented\s+by|host:?|dj|kj|vj)\.?:?\s+)+", re.IGNORECASE
)
_SEPARATORS = re.compile(
    r"\s*(?:\||\u00b7|\u2022|\s[-\u2013\u2014]\s|[\u2013\u2014]|:|\(|\)|\[|\]|@|\bat\b|,|!|#)\s*",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"\b(?:karaoke|tonight|weekly|every\s+week|presents?|featuring|with|w/|hosted\s+by"
    r"|come\s+sing|sing\s+with\s+us|join\s+us|schedule|also)\b",
    re.IGNORECASE,
)
_TITLE_WORDS = {
    "karaoke", "schedule", "weekly", "nights", "night", "sing", "with", "us", "this", "week",
    "our", "come", "join", "lineup", "calendar", "locations", "upcoming", "where", "to", "find",
    "the", "shows", "live", "tonight", "is", "back", "and", "at", "your", "for", "all",
}  # fmt: skip
_SMALL_WORDS = {"a", "an", "and", "the", "of", "at", "on", "in", "by", "for", "to", "or", "with", "&"}
_STATUS_NOTE = re.compile(
    r"\(?\b(?:temporarily\s+)?(?:cancel+ed|on\s+hiatus|closed|suspended|postponed|no\s+karaoke)\b[^)|]*\)?",
    re.IGNORECASE,
)
_AT_VENUE = re.compile(r"(?:\bat\b|@)[\s|\-\u2013\u2014]*(?P<rest>[^|]+)", re.IGNORECASE)

_SUFFIX_WORDS = sorted(
    (word.upper() for word in GENERIC_VENUE_WORDS if len(word) >= 3 and word != "and"), key=len, reverse=True
)
_GLUED_VENUE = re.compile(
    rf"^(?P<article>THE)?(?P<core>[A-Z'&]{{3,}}?)(?P<generic>(?:{'|'.join(_SUFFIX_WORDS)})+)$"
)  # 'THEVELVETROOM': the article and the generic words OCR glued to a name in capitals
_GLUED_MIN_LENGTH = 8
# 'THETIPSY CROW': an article OCR glued to the word after it in capitals, cut only where the rest
# starts as an English word can ('THE TIPSY', 'THE STATION'), so 'THEODORES' and 'THELMAS' stay
_GLUED_ARTICLE = re.compile(
    r"^THE(?P<word>[B-DF-HJ-NP-TV-Z]"
    r"(?:[AEIOUY]|(?<=[BCFGKPS])L|(?<=[BCDFGKPTW])R|(?<=[CPSTW])H|(?<=S)[CKMNPTW]|(?<=K)N)[A-Z'&]{2,})(?=\s|$)"
)


@dataclass(frozen=True)
class LineFields:
    """The parts of one line of schedule text; ``venue`` is what was left once the rest was cut."""

    days: tuple[Weekday, ...] = ()
    date: dt.date | None = None
    time: TimeRange | None = None
    dj: str | None = None
    dj_as_seen: str | None = None
    address: Address | None = None
    phone: str | None = None
    venue: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_days(self) -> bool:
        return bool(self.days) or self.date is not None


def is_sentence(text: str) -> bool:
    """Running words in sentence case ('Call for details', 'Sing your heart out!'), not a name.

    Names are written in title case ('Oties Tavern & Grill'); a line of three or more
    words whose later words are mostly lower case is a tagline or a hint.
    """
    words = re.findall(r"[A-Za-z][A-Za-z']*", text)
    if len(words) < 3:
        return False
    later = [word for word in words[1:] if word.lower() not in _SMALL_WORDS]
    lower = sum(word[0].islower() for word in later)
    return bool(later) and lower >= 0.6 * len(later)


def is_title(text: str) -> bool:
    """A heading such as 'KARAOKE SCHEDULE', 'Weekly Karaoke' or 'Karaoke this week!'."""
    words = re.findall(r"[a-z]+", text.lower())
    return bool(words) and mentions_karaoke(text) and all(w in _TITLE_WORDS for w in words)


def vendor_name(text: str) -> str | None:
    """The company of a credit line or badge: 'Karaoke by Star Sound Entertainment' -> 'Star Sound ...'."""
    return vendor_badge(text)


def strip_dj_prefix(text: str) -> str | None:
    """'with DJ Mike' -> 'Mike'; '@djmax614' -> 'djmax614'; 'KJJuice' -> 'Juice'; 'TBA' -> None."""
    name = clean_name(_GLUED_PREFIX.sub("", _DJ_PREFIX.sub("", text.strip())).lstrip("@"))
    return None if name is None or name.lower().strip(".") in _NO_HOST else name


def _cut(text: str, part: str) -> str:
    """``text`` with the first occurrence of ``part`` replaced by a separator."""
    return text.replace(part, " | ", 1)


def _read_dj(text: str) -> tuple[str | None, str | None, str]:
    """The DJ's name, the credit as seen ('DJ Mike') and the text without it."""
    for match in _DJ.finditer(text):
        name = clean_name((match["name"] or match["plain"] or "").lstrip("@"))
        if name is None or name.lower() in _NOT_DJ_NAMES:
            continue
        seen = f"{match['prefix']} {name}" if match["prefix"] else name
        return name, seen, _cut(text, match.group(0))
    return None, None, text


def _read_days(text: str) -> tuple[tuple[Weekday, ...], tuple[str, ...], str]:
    """Weekdays named in ``text``, monthly rules ('Last Sat of Month') and the text without them."""
    days: set[Weekday] = set()
    rules: list[str] = []
    for phrase in find_day_phrases(text):
        days.update(phrase.days)
        if phrase.monthly:
            rules.append(phrase.text)
        text = _cut(text, phrase.text)
    return tuple(d for d in WEEKDAYS if d in days), tuple(rules), text


def _is_filler(segment: str) -> bool:
    """A leftover made only of heading words ('KARAOKE', 'Karaoke Night')."""
    return all(word in _TITLE_WORDS for word in re.findall(r"[a-z]+", segment.lower()))


def _segments(text: str) -> list[str]:
    """What is left of a line, split on separators, without filler words."""
    pieces = (
        clean_name(_FILLER.sub(" ", piece)) for piece in _SEPARATORS.split(text) if not _is_filler(piece)
    )
    return [
        p
        for p in pieces
        if p and re.search(r"[A-Za-z]{2}", p) and not _only_small_words(p) and not is_ui_words(p)
    ]


def _only_small_words(segment: str) -> bool:
    """A leftover of function words ('by' of a badge 'Karaoke by' beside the street): not a name."""
    return all(word in _SMALL_WORDS for word in re.findall(r"[a-z&]+", segment.lower()))


def spaced_venue_name(name: str) -> str:
    """A venue name OCR read without spaces, spaced where it can tell: 'THEVELVETROOM' -> 'THE VELVET ROOM'.

    Only a name in capitals that ends with generic venue words ('ROOM', 'BAR', 'LOUNGE')
    is cut, after its leading 'THE' and before those words; the rest stays as read, but for a
    leading 'THE' glued to the word after it ('THETIPSY CROW').
    """
    glued = _GLUED_VENUE.match(name) if len(name) >= _GLUED_MIN_LENGTH else None
    if glued is None:
        return _GLUED_ARTICLE.sub(r"THE \g<word>", name)
    generic = re.findall("|".join(_SUFFIX_WORDS), glued["generic"])
    return " ".join(filter(None, [glued["article"], glued["core"], *generic]))


def _venue_after_at(rest: str) -> str | None:
    """The name after 'at' or '@' ('Wednesday at Kelley's Pub'), which beats other leftovers."""
    for match in _AT_VENUE.finditer(rest):
        segments = _segments(match["rest"])
        if segments:
            return segments[0]
    return None


def read_fields(text: str, today: dt.date, year: int | None = None) -> LineFields:
    """Cut date, address, phone, time, days and DJ out of a line; the rest names the venue.

    A status note ('(Temporarily Canceled for Fall/Winter)') goes to the notes,
    never into the venue; a name after 'at'/'@' is preferred as the venue. A date
    without a year is read against ``today``, or ``year`` when the page prints one;
    the weekday shown with a date is kept as the day.
    """
    status = _STATUS_NOTE.search(text)
    rest = _cut(text, status.group(0)) if status else text
    date = find_date(rest, today, year)
    if date is not None:
        rest = _cut(rest, date.text)
    address = find_address(rest)
    if address is not None:
        rest = _cut(rest, address.text)
    phone = find_phone(rest)
    if phone is not None:
        rest = _cut(rest, phone)
    time = normalize_time_range(rest)
    if time is not None:
        rest = _cut(rest, time.text)
    days, rules, rest = _read_days(rest)
    if date is not None:
        days = (date.weekday or WEEKDAYS[date.date.weekday()],)
    dj, dj_as_seen, rest = _read_dj(rest)
    segments = _segments(rest)
    at_venue = _venue_after_at(rest)
    if at_venue is not None and at_venue in segments:
        segments.remove(at_venue)
        segments.insert(0, at_venue)
    if status is not None:
        rules += (clean_name(status.group(0).strip("()")) or "",)
    return LineFields(
        days=days,
        date=date.date if date else None,
        time=time,
        dj=dj,
        dj_as_seen=dj_as_seen,
        address=address,
        phone=phone,
        venue=spaced_venue_name(segments[0]) if segments else None,
        notes=rules + tuple(segments[1:]),
    )
