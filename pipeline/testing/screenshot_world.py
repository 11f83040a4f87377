"""One consistent little world of karaoke nights, and the many ways people write them.

Every corpus draws its shows from the same ``WORLD``: each venue has fixed
weekly nights (days, start, end, DJ), so a show that appears in several images
has one truth even when each image words it differently ('Thu-Sat' or
'Thursdays, Fridays & Saturdays', '8pm-12am' or '8PM - MIDNIGHT', 'The Crescent
Lounge' or 'Crescent Lounge'). The spelling helpers return the text with the
meaning it was built from, never parsed back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.schema import WEEKDAYS, Weekday

WORLD_SEED = "karaoke-world:1"


@dataclass(frozen=True)
class Night:
    """A weekly karaoke night of one venue: its days, start and end (HH:MM) and DJ."""

    venue_index: int
    days: tuple[Weekday, ...]
    start: str
    end: str | None
    dj: str | None


_STARTS: tuple[tuple[str, str | None], ...] = (
    ("21:00", "02:00"), ("21:00", "01:00"), ("20:00", "00:00"), ("19:00", "23:00"), ("21:00", None),
    ("22:00", "02:00"), ("21:30", "01:30"), ("20:30", "00:30"), ("18:00", "21:00"), ("20:00", "01:00"),
)  # fmt: skip
_DAY_SETS: tuple[tuple[Weekday, ...], ...] = (
    ("thursday", "friday", "saturday"), ("thursday", "saturday"), ("friday", "saturday"),
    ("wednesday", "thursday", "friday"), ("tuesday", "thursday"), ("saturday", "sunday"),
)  # fmt: skip


def build_world(venue_count: int, dj_names: tuple[str, ...], seed: str = WORLD_SEED) -> tuple[Night, ...]:
    """1-2 nights per venue on distinct weekdays, the same for every corpus."""
    rng = random.Random(seed)
    nights: list[Night] = []
    for index in range(venue_count):
        taken: set[Weekday] = set()
        for _ in range(rng.choice((1, 1, 2))):
            days = rng.choice(_DAY_SETS) if rng.random() < 0.3 else (rng.choice(WEEKDAYS),)
            if taken & set(days):
                continue
            taken.update(days)
            start, end = rng.choice(_STARTS)
            dj = rng.choice(dj_names) if rng.random() < 0.85 else None
            nights.append(Night(index, days, start, end, dj))
    return tuple(nights)


# --- days ----------------------------------------------------------------------------

_SHORT = {"monday": "Mon", "tuesday": "Tue", "wednesday": "Wed", "thursday": "Thu",
          "friday": "Fri", "saturday": "Sat", "sunday": "Sun"}  # fmt: skip
SINGLE_DAY_STYLES: tuple[str, ...] = ("{U}", "{T}s", "{U}S", "Every {T}", "{T}", "{S}", "{T} nights")


def spell_day(rng: random.Random, day: Weekday) -> str:
    """One weekday as people write it: 'MONDAY', 'Mondays', 'Every Monday', 'Mon'."""
    return rng.choice(SINGLE_DAY_STYLES).format(U=day.upper(), T=day.title(), S=_SHORT[day])


def _consecutive(days: tuple[Weekday, ...]) -> bool:
    indexes = [WEEKDAYS.index(day) for day in days]
    return len(days) >= 3 and indexes == list(range(indexes[0], indexes[0] + len(days)))


def spell_days(rng: random.Random, days: tuple[Weekday, ...]) -> str:
    """Several weekdays: 'Thu-Sat', 'Thursdays & Saturdays', 'Thu, Fri & Sat', 'Weekends'."""
    if len(days) == 1:
        return spell_day(rng, days[0])
    options = [
        " & ".join(f"{day.title()}s" for day in days) if len(days) == 2 else "",
        ", ".join(_SHORT[day] for day in days[:-1]) + f" & {_SHORT[days[-1]]}",
        ", ".join(day.title() for day in days[:-1]) + f" & {days[-1].title()}s",
    ]
    if _consecutive(days):
        options.append(f"{_SHORT[days[0]]}-{_SHORT[days[-1]]}")
    if days == ("saturday", "sunday"):
        options.append("Weekends")
    return rng.choice([option for option in options if option])


# --- times ---------------------------------------------------------------------------


def _twelve(hhmm: str, *, minutes: bool, upper: bool, space: bool) -> str:
    hour, minute = (int(part) for part in hhmm.split(":"))
    meridiem = "am" if hour < 12 else "pm"
    clock = f"{hour % 12 or 12}" + (f":{minute:02d}" if minutes or minute else "")
    suffix = meridiem.upper() if upper else meridiem
    return f"{clock}{' ' if space else ''}{suffix}"


def spell_time(rng: random.Random, start: str, end: str | None) -> str:
    """A time range as written on schedules, e.g. '9PM-2AM', '9:00PM - 2:00AM', '21:00-02:00'."""
    minutes, upper, space = rng.random() < 0.3, rng.random() < 0.5, rng.random() < 0.2
    first = _twelve(start, minutes=minutes, upper=upper, space=space)
    if end is None:
        return f"{first}-{rng.choice(('close', 'late', 'Close'))}"
    second = _twelve(end, minutes=minutes, upper=upper, space=space)
    options = [f"{first}-{second}", f"{first} - {second}", f"{first} till {second}", f"{first} to {second}"]
    if end == "00:00":
        options.append(f"{first} - {'MIDNIGHT' if upper else 'midnight'}")
    if rng.random() < 0.15:
        options = [f"{start}-{end}"]
    elif rng.random() < 0.15 and int(start[:2]) < 22 and int(end[:2]) < 6:
        bare = _twelve(start, minutes=minutes, upper=upper, space=space)[: -3 if space else -2]
        options = [f"{bare}-{_twelve(end, minutes=minutes, upper=upper, space=space)[: -3 if space else -2]}"]
    return rng.choice(options)
