"""What the text of two lines says about whether the lower one continues the upper.

The layout stage joins a wrapped line to the one above it; these are the text
tests it asks (the geometry is its own): the upper line ends mid-phrase ('with',
'&'), the lower one starts mid-range ('- 1AM', 'PM'), is a lone zip code or the
city line of a street, or a range lost its dash between the two; a line that
starts a sentence or holds a field of its own (a time, a host credit, an
address, a phone) stands apart.
"""

from __future__ import annotations

import re

from pipeline.addresses import find_address, find_phone
from pipeline.backends.local.tagging.words import names_day
from pipeline.clean import normalize_time_range

__all__ = [
    "ends_open",
    "ends_with_connector_word",
    "ends_with_field",
    "has_field",
    "lost_dash",
    "starts_a_sentence",
    "wraps_by_text",
]

_CONNECTOR_END = re.compile(
    r"(?:[&|,+@(\-\u2013\u2014]|\b(?:with|by|at|and|of|every|each|w/|dj|kj|till?|until|to|presented|hosted))$",
    re.IGNORECASE,
)
_CREDIT = re.compile(r"\b(?:with|w/|hosted\s+by|presented\s+by|dj|kj)\s+\S", re.IGNORECASE)
_CREDIT_END = re.compile(
    r"\b(?:with|w/|hosted\s+by|presented\s+by|dj|kj)\s+[\w'.]+(?:\s+[\w'.]+){0,2}$", re.IGNORECASE
)
_CONTINUATION_START = re.compile(
    r"^(?:[ap]\.?m\b|[-\u2013\u2014]\s*(?:\d|close\b|late\b|midnight\b)|(?:till?|'til|until|to|thru)\s+(?:close|late|\d))",
    re.IGNORECASE,
)
_CONNECTOR_WORD_END = re.compile(r"\b(?:with|by|w/|dj|kj|presented|hosted)$", re.IGNORECASE)
_CLOCK_TEXT = r"\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?"
_ENDS_WITH_CLOCK = re.compile(rf"(?<![-\u2013\u2014]\s)(?<![-\u2013\u2014])\b{_CLOCK_TEXT}$", re.IGNORECASE)
_STARTS_WITH_CLOCK = re.compile(rf"^(?:{_CLOCK_TEXT}|close\b|late\b|midnight\b)(?:\s|$)", re.IGNORECASE)
_INITIAL = re.compile(r"^[A-Z]\.?$")  # 'W/ DJ MIKE' / 'D'
_SENTENCE = re.compile(r"^[A-Z][a-z']*(?:\s+[a-z][a-z']*){2,}")  # 'Open mic night coming soon'
_DANGLING_CELL = re.compile(r"[-\u2013\u2014]\s*(?:\||$)")  # a cell ending in a dash
_ZIP_ONLY = re.compile(r"^\d{5}(?:-\d{4})?$")


def wraps_by_text(text: str, next_text: str) -> bool:
    """``next_text`` continues ``text`` whatever the gap: a phrase, a range or an address runs on."""
    if _CONNECTOR_END.search(text) or _ZIP_ONLY.match(next_text) or _CONTINUATION_START.match(next_text):
        return True
    if _city_line_of(text, next_text) or lost_dash(text, next_text) or _INITIAL.match(next_text):
        return True
    return bool(
        _CREDIT_END.search(text)
        and text.isupper()
        and next_text.isupper()
        and not has_field(next_text)
        and not names_day(next_text)
    )  # a headline in capitals wraps inside the host's name ('... DJ TOMMY' / 'TUNES')


def ends_open(text: str) -> bool:
    """A table row whose last cell ends in a dash ('7:30PM -'): its range goes on in the row below."""
    return _DANGLING_CELL.search(text) is not None


def starts_a_sentence(text: str) -> bool:
    """'Open mic night coming soon': a line of its own, never the rest of a name."""
    return _SENTENCE.match(text) is not None


def ends_with_connector_word(text: str) -> bool:
    """'... hosted by': the next line finishes the phrase."""
    return _CONNECTOR_WORD_END.search(text) is not None


def _city_line_of(street_line: str, below: str) -> bool:
    """'2717 S Elm St' over 'Tampa, FL 33672': one address on two lines."""
    street = find_address(street_line)
    if street is None or street.city is not None or not street_line.endswith(street.text):
        return False
    whole = find_address(f"{street_line} {below}")
    return whole is not None and whole.city is not None and f"{street_line} {below}".find(whole.text) >= 0


def has_field(text: str) -> bool:
    """The line holds a time, a host credit, an address or a phone."""
    return bool(normalize_time_range(text) or _CREDIT.search(text) or find_address(text) or find_phone(text))


def ends_with_field(text: str) -> bool:
    """True when the line's last words are a time, a host credit, an address or a phone."""
    time = normalize_time_range(text)
    address = find_address(text)
    phone = find_phone(text)
    ends = [found.text for found in (time, address) if found is not None] + ([phone] if phone else [])
    return bool(_CREDIT_END.search(text)) or any(text.endswith(part) for part in ends)


def lost_dash(above: str, below: str) -> bool:
    """'... 9:00 PM' over '1:00 AM ...': a range whose dash OCR did not read."""
    return bool(_ENDS_WITH_CLOCK.search(above) and _STARTS_WITH_CLOCK.match(below))
