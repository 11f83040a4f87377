"""Tests on a piece of text that every stage asks: karaoke, another event, a day, a column name.

The tagging pass asks them of each line; layout and readers ask them again of
rows they joined and of table cells, always through these functions, so each
rule is written once.
"""

from __future__ import annotations

import datetime as dt
import re

from pipeline.dates import find_date, find_day_phrases

__all__ = [
    "GRID_DAY",
    "HEADER_FILLER",
    "HEADER_WORDS",
    "WEEKDAY_HEADERS",
    "is_cancel_badge",
    "is_header_text",
    "is_other_event",
    "mentions_karaoke",
    "mentions_other_event",
    "names_day",
]

_EPOCH = dt.date(2000, 1, 1)  # any date: only whether a date is present matters
_KARAOKE = re.compile(r"\b(?:karaok[eé]|kj|sing(?:ers?|ing)?)\b", re.IGNORECASE)
_OTHER_EVENT = re.compile(
    r"\b(?:trivia|bingo|happy\s+hour|wings?|brunch|tacos?|euchre|cornhole|fish\s+fry|live\s+music"
    r"|league|tournament|specials?|open\s+mic|poker|comedy|drag\s+show|buckets?|pitchers?)\b|\$\d",
    re.IGNORECASE,
)
_OFF_WHY = (
    r"\s*[:,\u2013\u2014-]?\s*(?:for\s+)?(?:an?\s+)?(?:private\s+(?:event|party)|tonight|today|this\s+week"
    r"|holiday|renovations?)"
)
# a night that is off: 'CANCELLED', 'No karaoke tonight', 'Closed: private event'; a bare 'Closed'
# is a venue's opening hours as often as a night's status, so 'closed' needs its reason or its when
_CANCEL_BADGE = re.compile(
    rf"(?:cancel+ed|no\s+show|no\s+karaoke)(?:{_OFF_WHY})?|closed{_OFF_WHY}|off\s+(?:this\s+week|tonight)",
    re.IGNORECASE,
)
_CANCEL_CAPS = re.compile(r"\bCANCELL?ED\b(?![^(]*\))")  # a badge in capitals read into the line, not a note
HEADER_WORDS: dict[str, str] = {
    "day": "day", "days": "day", "night": "day", "nights": "day", "when": "day", "date": "day",
    "venue": "venue", "venues": "venue", "location": "venue", "bar": "venue", "place": "venue",
    "where": "venue", "time": "time", "times": "time", "hours": "time", "start": "time",
    "dj": "dj", "kj": "dj", "host": "dj", "dj/kj": "dj", "kj/dj": "dj", "djs": "dj",
    "address": "address", "addr": "address", "street": "address", "city": "city",
}  # fmt: skip
"""A table's column names and the kind of column each names."""
HEADER_FILLER = {"name", "of", "week", "&", "/", "-"}
GRID_DAY = "grid:"  # column kind prefix of a weekday column: "grid:monday"
# A weekly grid names one column per weekday: 'Venue | Mon | Tue | ...'.
WEEKDAY_HEADERS: dict[str, str] = {
    word: f"{GRID_DAY}{day}"
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    for word in (day, day[:3], f"{day}s")
} | {"tues": "grid:tuesday", "weds": "grid:wednesday", "thur": "grid:thursday", "thurs": "grid:thursday"}


def mentions_karaoke(text: str) -> bool:
    return _KARAOKE.search(text) is not None


def mentions_other_event(text: str) -> bool:
    """True for trivia, specials, happy hour and the like (days and times, but no karaoke)."""
    return _OTHER_EVENT.search(text) is not None


def is_other_event(text: str) -> bool:
    """Another event and not karaoke ('Trivia Tuesdays 8pm'): never a show."""
    return mentions_other_event(text) and not mentions_karaoke(text)


def is_cancel_badge(text: str) -> bool:
    """A status of its own saying the night is off ('CANCELLED', 'Closed: private event', 'No karaoke
    tonight', 'No Show') or 'CANCELLED' read into a line; a note in brackets is not, nor 'Closed now'.
    """
    return bool(_CANCEL_BADGE.fullmatch(text) or _CANCEL_CAPS.search(text))


def names_day(text: str) -> bool:
    """True when ``text`` names a weekday or a date."""
    return bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None


def is_header_text(text: str) -> bool:
    """A box made only of column names ('Day', 'Time', 'Host', 'Venue Name')."""
    words = [word.strip(":|.") for word in text.lower().split()]
    named = [word for word in words if word in HEADER_WORDS or word in WEEKDAY_HEADERS]
    return bool(named) and all(
        word in HEADER_WORDS or word in WEEKDAY_HEADERS or word in HEADER_FILLER for word in words
    )
