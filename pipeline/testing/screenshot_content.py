"""What the synthetic screenshots say: pools of venues, DJs, days and times.

Every pool entry carries its own ground truth (a time text stores its start and
end as ``HH:MM``, a day text its weekdays), so the truth written next to each
image never depends on the parsing code it is meant to test.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.schema import WEEKDAYS, Dj, ParsedSchedule, Show, Vendor, Venue, Weekday
from pipeline.testing.screenshot_world import Night, build_world, spell_days, spell_time


@dataclass(frozen=True)
class TimeText:
    """A time range as written on a schedule, with its 24-hour meaning."""

    text: str
    start: str
    end: str | None


@dataclass(frozen=True)
class DayText:
    """A day (or days) as written on a schedule, with the weekdays it covers."""

    text: str
    days: tuple[Weekday, ...]


@dataclass(frozen=True)
class VenueInfo:
    """A bar with its postal address; ``aliases`` are other ways people write its name."""

    name: str
    street: str
    city: str
    state: str
    zip: str
    aliases: tuple[str, ...] = ()

    @property
    def address_text(self) -> str:
        """The one-line address, e.g. ``123 Main St, Columbus, OH 43215``."""
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


@dataclass(frozen=True)
class ShowSpec:
    """One karaoke night to render; ``address_shown`` says if the address is drawn.

    ``written`` is the venue name as this image writes it (default: the real
    name); ``date`` makes it a dated one-off; ``note`` lands in the truth's
    description (a monthly rule, a cancellation).
    """

    venue: VenueInfo
    day: DayText
    time: TimeText
    dj: str | None
    address_shown: bool = False
    written: str | None = None
    date: dt.date | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        """The venue name as drawn."""
        return self.written or self.venue.name


VENUES: tuple[VenueInfo, ...] = (
    VenueInfo("The Rusty Nail", "123 Main St", "Columbus", "OH", "43215", ("Rusty Nail",)),
    VenueInfo("Oties Tavern & Grill", "5344 Center St", "Hilliard", "OH", "43026", ("Oties",)),
    VenueInfo("Sand Bar Station", "2200 N High St", "Columbus", "OH", "43201", ("Sandbar Station",)),
    VenueInfo("O'Nelly's Sports Pub", "4525 Sawmill Rd", "Columbus", "OH", "43220", ("O'Nelly's",)),
    VenueInfo("Kelley's Pub", "88 S State St", "Westerville", "OH", "43081"),
    VenueInfo("The Crescent Lounge", "610 W Broad St", "Columbus", "OH", "43215", ("Crescent Lounge",)),
    VenueInfo("Blue Moon Saloon", "3950 Broadway", "Grove City", "OH", "43123"),
    VenueInfo("Hideaway Bar & Grill", "17 E Bridge St", "Dublin", "OH", "43017", ("Hideaway Bar and Grill",)),
    VenueInfo("Lucky Shamrock", "1410 Morse Rd", "Columbus", "OH", "43229"),
    VenueInfo("The Back Porch", "742 Parsons Ave", "Columbus", "OH", "43206", ("Back Porch",)),
    VenueInfo("Kelly's Tavern", "215 E Main St", "Lancaster", "OH", "43130"),
    VenueInfo("Brewster's Taphouse", "6400 Busch Blvd", "Columbus", "OH", "43229"),
    VenueInfo("Dublin Village Tavern", "27 S High St", "Dublin", "OH", "43017"),
    VenueInfo("The Pint House", "780 N High St", "Columbus", "OH", "43215", ("Pint House",)),
)

DJ_NAMES: tuple[str, ...] = ("Mike", "Max", "Steve", "Jenny", "Rob", "Tina", "Carlos", "Dana")
WORLD: tuple[Night, ...] = build_world(len(VENUES), DJ_NAMES)

VENDORS: tuple[str, ...] = (
    "Star Sound Entertainment",
    "Sing It Loud Karaoke",
    "Midnight Mic Productions",
)

TIME_TEXTS: tuple[TimeText, ...] = (
    TimeText("9PM-2AM", "21:00", "02:00"),
    TimeText("9:00PM - 1:00AM", "21:00", "01:00"),
    TimeText("8pm-12am", "20:00", "00:00"),
    TimeText("8PM - MIDNIGHT", "20:00", "00:00"),
    TimeText("7:00PM - 11:00PM", "19:00", "23:00"),
    TimeText("9pm-close", "21:00", None),
    TimeText("21:00-01:00", "21:00", "01:00"),
    TimeText("10PM-2AM", "22:00", "02:00"),
    TimeText("9:30PM - 1:30AM", "21:30", "01:30"),
    TimeText("8:30pm-12:30am", "20:30", "00:30"),
    TimeText("6PM-9PM", "18:00", "21:00"),
    TimeText("9PM-late", "21:00", None),
)

MULTI_DAY_TEXTS: tuple[DayText, ...] = (
    DayText("Thu-Sat", ("thursday", "friday", "saturday")),
    DayText("Thursdays & Saturdays", ("thursday", "saturday")),
    DayText("Fri & Sat", ("friday", "saturday")),
    DayText("Wed-Fri", ("wednesday", "thursday", "friday")),
    DayText("Tuesdays & Thursdays", ("tuesday", "thursday")),
    DayText("Weekends", ("saturday", "sunday")),
)

# How one weekday is spelled: "MONDAY", "Mondays", "MONDAYS", "Every Monday", "Monday".
SINGLE_DAY_STYLES: tuple[str, ...] = ("{U}", "{T}s", "{U}S", "Every {T}", "{T}")

TITLES: tuple[str, ...] = ("KARAOKE SCHEDULE", "Weekly Karaoke", "Karaoke Nights")


def single_day_text(day: Weekday, style: str) -> DayText:
    """Spell one weekday in a given style (see ``SINGLE_DAY_STYLES``)."""
    return DayText(style.format(U=day.upper(), T=day.title()), (day,))


def pick_day_text(rng: random.Random, multi_day_chance: float = 0.25) -> DayText:
    """A single weekday in a random spelling, or now and then a multi-day text."""
    if rng.random() < multi_day_chance:
        return rng.choice(MULTI_DAY_TEXTS)
    return single_day_text(rng.choice(WEEKDAYS), rng.choice(SINGLE_DAY_STYLES))


def spec_of(rng: random.Random, night: Night) -> ShowSpec:
    """A world night worded one way: its days, time and (now and then) venue name respelt."""
    venue = VENUES[night.venue_index]
    written = rng.choice(venue.aliases) if venue.aliases and rng.random() < 0.4 else None
    return ShowSpec(
        venue=venue,
        day=DayText(spell_days(rng, night.days), night.days),
        time=TimeText(spell_time(rng, night.start, night.end), night.start, night.end),
        dj=night.dj,
        written=written,
    )


def pick_shows(rng: random.Random, count: int) -> list[ShowSpec]:
    """``count`` world nights at distinct venues, ordered by first weekday like a real schedule."""
    by_venue: dict[int, list[Night]] = {}
    for night in WORLD:
        by_venue.setdefault(night.venue_index, []).append(night)
    venues = rng.sample(sorted(by_venue), min(count, len(by_venue)))
    shows = [spec_of(rng, rng.choice(by_venue[index])) for index in venues]
    return sorted(shows, key=lambda show: WEEKDAYS.index(show.day.days[0]))


def dj_text(rng: random.Random, name: str, *, allow_with: bool = True) -> str:
    """How a DJ is credited: ``DJ Mike``, ``KJ Max`` or ``with DJ Steve``."""
    prefix = rng.choice(("DJ", "DJ", "KJ"))
    if allow_with and rng.random() < 0.35:
        return f"with {prefix} {name}"
    return f"{prefix} {name}"


def karaoke_line(rng: random.Random, show: ShowSpec) -> str:
    """One show on one line, in one of a few real-world shapes."""
    shape = rng.randrange(3)
    if shape == 0:
        sep = rng.choice((" - ", " | "))
        parts = [show.day.text, show.name, show.time.text]
        if show.dj:
            parts.append(dj_text(rng, show.dj, allow_with=False))
        return sep.join(parts)
    if shape == 1:
        dj = f" {dj_text(rng, show.dj)}" if show.dj else ""
        return f"{show.day.text.upper()} KARAOKE {show.time.text}{dj} @ {show.name}"
    dj = f" ({dj_text(rng, show.dj, allow_with=False)})" if show.dj else ""
    return f"{show.day.text}: {show.name} {show.time.text}{dj}"


def build_truth(shows: Sequence[ShowSpec], vendor: str | None = None) -> ParsedSchedule:
    """The ground truth for rendered shows: one Show per weekday a day text covers."""
    venues: dict[str, Venue] = {}
    djs: dict[str, Dj] = {}
    out: list[Show] = []
    for spec in shows:
        venues.setdefault(spec.venue.name, venue_truth(spec))
        if spec.dj:
            djs.setdefault(spec.dj, Dj(name=spec.dj))
        for day in spec.day.days:
            out.append(
                Show(
                    venue_name=spec.venue.name,
                    day=day,
                    date=spec.date,
                    start_time=spec.time.start,
                    end_time=spec.time.end,
                    time=spec.time.text,
                    dj_name=spec.dj,
                    vendor=vendor,
                    description=spec.note,
                )
            )
    vendors = [Vendor(name=vendor)] if vendor else []
    return ParsedSchedule(vendors=vendors, venues=list(venues.values()), djs=list(djs.values()), shows=out)


def venue_truth(spec: ShowSpec) -> Venue:
    """The Venue entry: the address parts only when the address was drawn."""
    if not spec.address_shown:
        return Venue(name=spec.venue.name)
    info = spec.venue
    return Venue(name=info.name, address=info.street, city=info.city, state=info.state, zip=info.zip)


TRAP_TITLES: tuple[str, ...] = ("Weekly Specials", "This Week at {venue}", "Trivia & Specials")

TRAP_LINES: tuple[str, ...] = (
    "TUESDAY - Trivia Night - 7PM-9PM",
    "Wing Wednesday | 50 cent wings | 4PM-close",
    "Happy Hour Mon-Fri 3-6PM",
    "Thursdays: Bingo 7:00PM - 9:00PM",
    "Live Music Saturdays 9PM-1AM",
    "Sunday Brunch 10AM - 2PM",
    "Taco Tuesday - $2 tacos all day",
    "Euchre League - Mondays 7pm",
    "Cornhole Tournament Every Sunday 2PM",
    "FRIDAY Fish Fry 5PM-9PM",
)


def pick_trap_lines(rng: random.Random) -> tuple[str, list[str]]:
    """A title and 3-6 non-karaoke lines full of days and times."""
    title = rng.choice(TRAP_TITLES).format(venue=rng.choice(VENUES).name)
    return title, rng.sample(TRAP_LINES, rng.randint(3, 6))
