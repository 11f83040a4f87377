"""What every reader works with: the reference day, a draft show, what the page says once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipeline.backends.local.tagging.fields import LineFields, read_fields

__all__ = ["Draft", "Page", "Reading", "merge", "merge_all"]


@dataclass(frozen=True)
class Reading:
    """What every line is read against: the reference day and a year the page prints."""

    today: dt.date
    year: int | None = None

    def fields(self, text: str) -> LineFields:
        return read_fields(text, self.today, self.year)


@dataclass(frozen=True)
class Draft:
    """One show line's fields before it is expanded into one Show per day."""

    fields: LineFields
    score: float
    borrowed_venue: bool = False
    karaoke_line: bool = False


@dataclass(frozen=True)
class Page:
    """What the whole page says once: its vendor, whether it is about karaoke, a venue heading."""

    vendor: str | None
    karaoke: bool
    venue: str | None
    heading: LineFields = field(default_factory=LineFields)
    """Everything read above the first show (the heading venue's address and phone)."""


def merge(first: LineFields, other: LineFields) -> LineFields:
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


def merge_all(fields: Sequence[LineFields]) -> LineFields:
    merged = LineFields()
    for part in fields:
        merged = merge(merged, part)
    return merged
