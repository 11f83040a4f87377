"""The people and places of the realistic corpus, and the ways their nights are written.

Venues, DJs and karaoke companies (vendors) come from fixed pools. Each split
draws from its own half of every pool (``pool_for``), so the frozen test split
shares no venue, DJ or company with the dev split the parser is tuned on: a
rule that memorises a name cannot help on the test split.

The spelling helpers return text built from a known meaning (start, end, day),
never parsed back, so the truth is the generator's data.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.schema import WEEKDAYS, Weekday

__all__ = [
    "Night",
    "Place",
    "World",
    "clock_text",
    "pool_for",
    "sample_nights",
    "spell_range",
    "weekday_of",
]


@dataclass(frozen=True)
class Place:
    """A venue with its full address, a tag as directories show it, and its phone."""

    name: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    tag: str


@dataclass(frozen=True)
class Night:
    """One karaoke show as a careful reader would note it.

    ``date`` is set for a one-time event (or a dated entry of a week view); then
    ``day`` is that date's weekday. ``cancelled`` nights are drawn but are not shows.
    A night on some weeks of the month only ('Second and Fourth Friday') keeps its
    weekday in ``day`` and the rule as written in ``rule``, as the schema does.
    """

    place: Place
    day: Weekday
    start: str
    end: str | None
    dj: str | None
    date: dt.date | None = None
    cancelled: bool = False
    text: str | None = None  # the time as drawn, e.g. '9PM-1AM'
    rule: str | None = None  # some weeks of the month, as drawn ('Every 3rd Monday'): the description


@dataclass(frozen=True)
class World:
    """The pools one split draws from."""

    places: tuple[Place, ...]
    djs: tuple[str, ...]
    vendors: tuple[str, ...]


_NAMES: tuple[str, ...] = (
    "Sand Bar Station", "O'Malley's Pub", "The Rusty Anchor", "Lucky Dog Saloon", "Blue Heron Tavern",
    "Copper Kettle Grill", "The Velvet Room", "Brick & Barrel", "Hideout Lounge", "Two Rivers Taphouse",
    "Gator's Sports Bar", "The Red Lantern", "Mulligan's Irish Pub", "Starlite Lanes", "Harbor House",
    "Moose Lodge 1120", "The Tipsy Crow", "Main Street Tap", "Silver Spur Saloon", "Pour Decisions",
    "The Local Bar & Grill", "Kingfisher Inn", "Rooftop 35", "Dirty Dog Tavern", "El Toro Cantina",
    "Sidetrack Bar", "The Wagon Wheel", "Fat Tuesday's", "Neon Moon Lounge", "Pinewood Social",
    "Liberty Ale House", "The Drunken Duck", "Bottoms Up Bar", "Wild Hare Pub", "The Dugout",
    "Paddy's on Fifth", "Spinnaker Grill", "Crossroads Tavern", "The Office Lounge", "Tumbleweed Saloon",
)  # fmt: skip
_STREETS: tuple[str, ...] = (
    "Main St", "Oak Ave", "W Broad St", "N High St", "Lakeshore Dr", "Route 9", "Harbor Blvd",
    "E 5th Ave", "Mill Rd", "Commerce Pkwy", "S Elm St", "Riverside Dr",
)  # fmt: skip
_CITIES: tuple[tuple[str, str, str], ...] = (
    ("Columbus", "OH", "432"), ("Tampa", "FL", "336"), ("Austin", "TX", "787"), ("Boise", "ID", "837"),
    ("Dayton", "OH", "454"), ("Mesa", "AZ", "852"), ("Toledo", "OH", "436"), ("Clearwater", "FL", "337"),
)  # fmt: skip
_TAGS: tuple[str, ...] = ("Sports Bar", "Dive Bar", "Dedicated", "Brewery", "Restaurant", "Lounge", "Pub")
_DJS: tuple[str, ...] = (
    "Steve", "Krissy K", "Marco", "Big Al", "Dana", "Jenny Vega", "Tommy Tunes", "Rae", "Chris B",
    "Lola", "Mike D", "Sam Sparks", "Tina", "Ricky Ray", "Nate", "Val", "Juice", "Carla Mae",
)  # fmt: skip
_VENDORS: tuple[str, ...] = (
    "Mikey's Karaoke", "Starlight Karaoke Co.", "Karaoke by Dana", "Rockstar Entertainment",
    "Encore Karaoke", "Sing It Loud Productions", "Neon Nights Karaoke", "Full Volume DJs",
)  # fmt: skip

SPLITS: tuple[str, ...] = ("dev", "test")


def _place(rng: random.Random, name: str) -> Place:
    city, state, zip_prefix = rng.choice(_CITIES)
    number = rng.randint(12, 9890)
    street = f"{number} {rng.choice(_STREETS)}"
    if rng.random() < 0.15:
        street += f" Ste {rng.choice((100, 210, 600))}"
    phone = f"({rng.randint(201, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
    return Place(name, street, city, state, f"{zip_prefix}{rng.randint(10, 99)}", phone, rng.choice(_TAGS))


def pool_for(split: str) -> World:
    """The pools of ``split``: ``dev`` takes the even entries of every list, ``test`` the odd.

    Raises:
        ValueError: an unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    offset = SPLITS.index(split)
    rng = random.Random(f"realworld-places:{split}")
    places = tuple(_place(rng, name) for name in _NAMES[offset::2])
    return World(places=places, djs=_DJS[offset::2], vendors=_VENDORS[offset::2])


# --- times --------------------------------------------------------------------------

_STARTS_ENDS: tuple[tuple[str, str | None], ...] = (
    ("21:00", "01:00"), ("21:00", "02:00"), ("20:00", "00:00"), ("19:00", "23:00"), ("21:30", "01:30"),
    ("22:00", "02:00"), ("20:30", "00:30"), ("19:30", "23:30"), ("18:00", "21:00"), ("21:00", None),
    ("20:00", None), ("22:00", "01:00"),
)  # fmt: skip


def clock_text(hhmm: str, style: str) -> str:
    """'21:30' as people write it: ``long`` '9:30 PM', ``compact`` '9:30pm', ``short`` '9:30PM'/'9PM'."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    suffix = "AM" if hour < 12 else "PM"
    twelve = hour % 12 or 12
    if style == "long":
        return f"{twelve}:{minute:02d} {suffix}"
    if style == "compact":
        body = f"{twelve}:{minute:02d}" if minute else f"{twelve}"
        return body + suffix.lower()
    return (f"{twelve}:{minute:02d}" if minute else f"{twelve}") + suffix


def spell_range(rng: random.Random, start: str, end: str | None, style: str | None = None) -> str:
    """A start-end range: '7:00PM - 11:00PM', '9pm-1am', '9:00 PM - Close', '8PM-Midnight'."""
    style = style or rng.choice(("long", "compact", "short", "padded"))
    clock_style = "short" if style == "padded" else style
    first = clock_text(start, clock_style)
    if style == "padded":
        first = clock_text(start, "long").replace(" ", "")
    if end is None:
        return first + rng.choice((" - Close", "-close", " till close", " - LATE"))
    if end == "00:00" and rng.random() < 0.3:
        return first + rng.choice((" - Midnight", "-midnight"))
    last = clock_text(end, clock_style) if style != "padded" else clock_text(end, "long").replace(" ", "")
    separator = "-" if style == "compact" else rng.choice((" - ", " \u2013 ", "-"))
    return first + separator + last


# --- nights ---------------------------------------------------------------------------


def sample_nights(
    rng: random.Random,
    world: World,
    count: int,
    *,
    days: Sequence[Weekday] = WEEKDAYS,
    dj_rate: float = 0.8,
    distinct_places: bool = True,
) -> list[Night]:
    """``count`` nights with distinct (venue, day, start); one venue per night when ``distinct_places``."""
    places = list(world.places)
    rng.shuffle(places)
    nights: list[Night] = []
    seen: set[tuple[str, str, str]] = set()
    attempts = 0
    while len(nights) < count and attempts < count * 20:
        attempts += 1
        place = places[len(nights) % len(places)] if distinct_places else rng.choice(places)
        day = rng.choice(list(days))
        start, end = rng.choice(_STARTS_ENDS)
        key = (place.name, day, start)
        if key in seen:
            continue
        seen.add(key)
        dj = rng.choice(world.djs) if rng.random() < dj_rate else None
        nights.append(Night(place, day, start, end, dj))
    return nights


def weekday_of(date: dt.date) -> Weekday:
    """The weekday name of ``date``."""
    return WEEKDAYS[date.weekday()]
