"""Short wordings shared by the page and flyer templates: days, DJs, addresses, hints."""

from __future__ import annotations

import datetime as dt
import random

from pipeline.schema import Weekday
from pipeline.testing.realworld.world import Place

__all__ = ["HINTS", "address_line", "date_label", "day_label", "dj_phrase", "short_day"]

_SHORT: dict[str, str] = {
    "monday": "Mon", "tuesday": "Tue", "wednesday": "Wed", "thursday": "Thu",
    "friday": "Fri", "saturday": "Sat", "sunday": "Sun",
}  # fmt: skip

HINTS: tuple[str, ...] = (
    "Also every day", "Call for details", "Schedule subject to change", "Check back for updates",
    "Open mic night coming soon", "Drink specials all night",
)  # fmt: skip
"""Lines without a show in them: a careful reader skips them."""


def short_day(day: Weekday) -> str:
    """'Thu'."""
    return _SHORT[day]


def day_label(rng: random.Random, day: Weekday) -> str:
    """A weekly day as written on a schedule: 'SUNDAYS', 'Every Sunday', 'Sundays', 'SUN'."""
    return rng.choice((f"{day.upper()}S", f"Every {day.title()}", f"{day.title()}s", day.upper()))


def dj_phrase(rng: random.Random, dj: str) -> str:
    """The host of a night: 'with DJ Steve', 'with KJ Steve', 'Hosted by Steve', 'Presented by DJ Steve'."""
    return rng.choice(
        (f"with DJ {dj}", f"with KJ {dj}", f"Hosted by {dj}", f"Presented by DJ {dj}", f"w/ DJ {dj}")
    )


def address_line(place: Place) -> str:
    """'1234 Main St, Columbus, OH 43215'."""
    return f"{place.street}, {place.city}, {place.state} {place.zip}"


def date_label(date: dt.date, day: Weekday) -> str:
    """A dated day header without the year: 'SATURDAY Sat 6/27'."""
    return f"{day.upper()} {short_day(day)} {date.month}/{date.day}"


def week_range_label(first: dt.date, last: dt.date) -> str:
    """The header of a week view, with the year: 'Jun 7 - 13, 2026' or 'Jun 28 - Jul 4, 2026'."""
    if first.month == last.month:
        return f"{first:%b} {first.day} - {last.day}, {last.year}"
    return f"{first:%b} {first.day} - {last:%b} {last.day}, {last.year}"
