"""Fuzzy identity of venue names and streets, shared by the reducer and the evaluator.

Two spellings name the same venue when their keys (see ``pipeline.clean.venue_key``:
folded, no leading 'The', no spaces) are equal, when one key is the other plus
only generic words ('Oties' and 'Oties Tavern & Grill'), or when they differ by
a few letters, as OCR and typing do ('Oneilly's Sports Pub' and 'O'Nelly's Sports
Pub'). Names with different numbers never match, and a short name must match
exactly: 'Kelley's Pub' and 'Kelly's Tavern' stay two venues.

Every rule is symmetric, so clustering with it depends only on the set of names.
rapidfuzz is imported on first use to keep ``pipeline.reduce`` quick to import.
"""

from __future__ import annotations

import functools
import re

from pipeline.clean import venue_key

__all__ = ["FUZZY_RATIO", "GENERIC_VENUE_WORDS", "street_key", "venue_keys_match", "venue_names_match"]

FUZZY_RATIO = 88.0
"""rapidfuzz ratio (0-100) above which two long keys are one name misspelt."""
_MIN_FUZZY_LENGTH = 8
_MIN_CORE_LENGTH = 4

GENERIC_VENUE_WORDS: tuple[str, ...] = (
    "and", "bar", "bars", "grill", "grille", "pub", "tavern", "lounge", "saloon", "sports", "sport",
    "restaurant", "cafe", "taproom", "tap", "taphouse", "house", "brewery", "brewing", "company", "co",
    "inn", "club", "kitchen", "eatery", "bistro", "cantina", "bbq", "nightclub", "pizza", "pizzeria",
    "tavernandgrill", "spirits", "cocktails", "ale", "alehouse", "room", "karaoke",
)  # fmt: skip
_GENERIC = re.compile("(?:" + "|".join(sorted(GENERIC_VENUE_WORDS, key=len, reverse=True)) + ")+")


def _only_generic(rest: str) -> bool:
    """True when ``rest`` is made only of generic venue words ('tavernandgrill')."""
    return bool(rest) and _GENERIC.fullmatch(rest) is not None


def _extends(short: str, long: str) -> bool:
    """``long`` is ``short`` with generic words before or after it."""
    if len(short) < _MIN_CORE_LENGTH or _only_generic(short):
        return False
    if long.startswith(short):
        return _only_generic(long[len(short) :])
    if long.endswith(short):
        return _only_generic(long[: -len(short)])
    return False


@functools.lru_cache(maxsize=65536)
def venue_keys_match(first: str, second: str) -> bool:
    """Whether two venue keys name the same venue (symmetric; exact keys always match)."""
    if first == second:
        return True
    if re.findall(r"\d+", first) != re.findall(r"\d+", second):
        return False
    short, long = sorted((first, second), key=lambda key: (len(key), key))
    if _extends(short, long):
        return True
    if len(short) < _MIN_FUZZY_LENGTH:
        return False
    from rapidfuzz import fuzz

    return fuzz.ratio(first, second) >= FUZZY_RATIO


def venue_names_match(first: str, second: str) -> bool:
    """Whether two venue names as written name the same venue."""
    return venue_keys_match(venue_key(first), venue_key(second))


_STREET_WORDS: dict[str, str] = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "lane": "ln", "parkway": "pkwy", "highway": "hwy", "court": "ct", "place": "pl", "circle": "cir",
    "terrace": "ter", "trail": "trl", "square": "sq", "north": "n", "south": "s", "east": "e",
    "west": "w", "suite": "ste",
}  # fmt: skip


def street_key(street: str) -> str:
    """Matching key of a street: '123 Main Street' and '123 Main St.' give '123 main st'."""
    words = re.findall(r"[a-z0-9]+", street.lower())
    return " ".join(_STREET_WORDS.get(word, word) for word in words)
