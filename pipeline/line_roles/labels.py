"""The role of a text element, from what the generator drew it from (never from OCR).

A page's text nodes (and a flyer's OCR lines, matched loosely) are named by the
sample's own data: a show's venue, a venue of the directory that has no show
here (``listing``), a day or time (``when``), a host credit, a street, phone or
city line (``address``; a city alone is ``area``, the neighbourhood line of a
card), a directory tag, the site's or company's name (``brand``) and the rest
(navigation, buttons, hints, taglines, footers: ``other``). Trap images have
no show: all their lines are ``other``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from pipeline.addresses import find_phone
from pipeline.clean import normalize_time_range
from pipeline.dates import find_date, find_day_phrases
from pipeline.schema import ParsedSchedule

__all__ = ["ROLES", "Knowledge", "role_of"]

ROLES: tuple[str, ...] = ("venue", "when", "host", "address", "area", "tag", "listing", "brand", "other")
"""Every role a line can have; the model's classes, in this order."""

_EPOCH = dt.date(2000, 1, 1)
_SPACES = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Knowledge:
    """What one sample's data says the names on it are."""

    venues: frozenset[str]  # venues of the sample's shows
    places: frozenset[str]  # every venue name of the split's pool
    streets: frozenset[str]
    cities: frozenset[str]
    djs: frozenset[str]
    brands: frozenset[str]  # vendors and directory names
    tags: frozenset[str]
    trap: bool = False

    @classmethod
    def of(
        cls,
        truth: ParsedSchedule,
        *,
        places: list[tuple[str, str, str, str]],
        djs: tuple[str, ...],
        brands: tuple[str, ...],
        trap: bool,
    ) -> Knowledge:
        """``places`` is (name, street, city, tag) of every venue of the pool (empty parts are skipped)."""

        def folded(values: Iterable[str]) -> frozenset[str]:
            return frozenset(_fold(value) for value in values if value)

        return cls(
            venues=folded(show.venue_name for show in truth.shows),
            places=folded(name for name, _, _, _ in places),
            streets=folded(street for _, street, _, _ in places),
            cities=folded(city for _, _, city, _ in places),
            djs=folded(djs),
            brands=folded(brands),
            tags=folded(tag for _, _, _, tag in places),
            trap=trap,
        )


def _same(text: str, name: str, fuzzy: bool) -> bool:
    if text == name:
        return True
    return fuzzy and len(text) >= 4 and fuzz.ratio(text, name) >= 85


def _holds(text: str, part: str, fuzzy: bool) -> bool:
    if part in text:
        return True
    return fuzzy and len(part) >= 5 and fuzz.partial_ratio(part, text) >= 88


def role_of(text: str, known: Knowledge, *, fuzzy: bool = False) -> str:
    """The role of one text element; ``fuzzy`` for OCR text (a flyer has no element boxes)."""
    if known.trap:
        return "other"
    folded = _fold(text)
    if not folded:
        return "other"
    for name in known.places:
        if _same(folded, name, fuzzy) or (folded.startswith(name) and len(folded) <= len(name) + 3):
            return "venue" if name in known.venues else "listing"
    if find_phone(text) or any(_holds(folded, street, fuzzy) for street in known.streets):
        return "address"
    if normalize_time_range(text) or find_day_phrases(text) or find_date(text, _EPOCH):
        return "when"
    if any(re.search(rf"\b{re.escape(dj)}\b", folded) for dj in known.djs) and len(folded) < 40:
        return "host"
    if any(_same(folded, city, fuzzy) for city in known.cities):
        return "area"
    if any(_same(folded, tag, fuzzy) for tag in known.tags):
        return "tag"
    if any(_same(folded, brand, fuzzy) or folded == f"{brand}" for brand in known.brands):
        return "brand"
    return "other"
