"""US postal addresses, states and phone numbers as written on schedules.

Pure functions, re-exported by ``pipeline.clean``. ``find_address`` searches a
line ('... - 123 Main St, Columbus, OH - 9pm') and returns the part it matched.
"""

from __future__ import annotations

import re
from typing import NamedTuple

STATES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}  # fmt: skip
STATE_CODES = frozenset(STATES.values())

_STREET_SUFFIX = (
    r"(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|way|pkwy|parkway|pike"
    r"|hwy|highway|ct|court|pl|place|cir|circle|ter|terrace|trl|trail|sq|square|broadway"
    r"|(?:route|rte|hwy|highway|us|sr|county\s+road)\s+\d{1,4})"
)
_STATE = r"(?:[A-Za-z]{2}|" + "|".join(sorted(STATES, key=len, reverse=True)) + r")"
_FULL_ADDRESS = re.compile(
    r"(?<![\w$])(?P<street>\d{1,6}\s+(?:[A-Za-z0-9'.#]+\s+){0,5}?[A-Za-z0-9'.#]+)\s*,\s*"
    rf"(?P<city>[A-Za-z][A-Za-z .'-]{{1,30}}?)\s*,?\s+(?P<state>{_STATE})\b\.?"
    r"(?:\s+(?P<zip>\d{5}(?:-\d{4})?))?(?![\w])",
    re.IGNORECASE,
)
# A wrapped address joined back without its comma: '2717 S Elm St Tampa, FL 33672'.
_FULL_ADDRESS_NO_COMMA = re.compile(
    rf"(?<![\w$])(?P<street>\d{{1,6}}\s+(?:[A-Za-z0-9'.#]+\s+){{0,4}}?{_STREET_SUFFIX}\.?)\s+"
    rf"(?P<city>[A-Za-z][A-Za-z .'-]{{1,30}}?)\s*,\s*(?P<state>{_STATE})\b\.?"
    r"(?:\s+(?P<zip>\d{5}(?:-\d{4})?))?(?![\w])",
    re.IGNORECASE,
)
_STREET_ONLY = re.compile(
    rf"(?<![\w$])\d{{1,6}}\s+(?:[A-Za-z0-9'.]+\s+){{0,4}}{_STREET_SUFFIX}\b\.?",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")


class Address(NamedTuple):
    """A street address split into parts; ``text`` is the part of the line it came from."""

    street: str
    city: str | None
    state: str | None
    zip: str | None
    text: str


def normalize_state(text: str) -> str | None:
    """Two-letter code for 'OH', 'oh', 'Ohio' or 'Ohio.'; None when not a US state."""
    folded = " ".join(text.strip().rstrip(".").lower().split())
    if folded.upper() in STATE_CODES:
        return folded.upper()
    return STATES.get(folded)


def normalize_phone(text: str) -> str | None:
    """A US phone number as '(614) 555-0134'; None unless it has 10 digits (or 1 + 10)."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def find_phone(text: str) -> str | None:
    """The first phone number in ``text``, as written."""
    match = _PHONE.search(text)
    return match.group(0).strip() if match else None


def find_address(text: str) -> Address | None:
    """The first street address in ``text``: '123 Main St, Columbus, OH 43215' or '123 Main St'."""
    for pattern in (_FULL_ADDRESS, _FULL_ADDRESS_NO_COMMA):
        for match in pattern.finditer(text):
            state = normalize_state(match["state"])
            if state is not None:
                street, city = " ".join(match["street"].split()), " ".join(match["city"].split())
                return Address(street, city, state, match["zip"], match.group(0).strip())
    street_only = _STREET_ONLY.search(text)
    if street_only is not None:
        street = " ".join(street_only.group(0).split())
        return Address(street, None, None, None, street_only.group(0).strip())
    return None


def split_address(text: str) -> Address | None:
    """Split a one-line address into street, city, state and zip; None if it is not one."""
    found = find_address(text)
    if found is None or len(found.text) < len(text.strip(" ,.-")) * 0.8:
        return None
    return found
