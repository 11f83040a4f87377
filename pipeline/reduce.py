"""Merge and deduplicate the schedules of many images into one, keeping provenance.

``ScheduleReducer`` is pure (no Ray, no I/O): schedules stream in with ``add`` and
``result`` returns the combined schedule. Every merged item is a join of its
inputs, field by field, so the result is the same whatever order the inputs
arrive in, and adding an input twice changes nothing. The driver merges the
answers there as they arrive (no reducer actor: the answers are small and the
driver has them already); this module never imports Ray.

Identity rules (the old app's fault 7 was getting these wrong):

- a show is ``ShowKey``: venue key, day or date, start time (or the time text
  when the start time is unknown). Different days, dates or start times never
  merge: they are separate buckets, whatever the venue matcher says; within a
  bucket venue keys merge when the matcher says so (default: the fuzzy
  ``pipeline.matching.venue_keys_match``, 'The Crescent Lounge' = 'Crescent Lounge');
- one exception, weekly and dated sightings of one night (``clusters.weekly_groups``):
  a dated show joins the weekly show of its venue, weekday and start time, and
  dated shows of one venue, weekday and start time seen on two dates a week apart
  are one weekly show; the weekly show lists those dates in ``seen_on_dates``.
  Any other dated show stays a one-off;
- venues merge by name and address (``cluster_venue_keys``): two branches of
  one chain at different streets stay apart;
- DJs merge by ``dj_key`` and by alias: when one item names a DJ together with
  aliases or handles ('Max', 'DJ Max', '@djmax614'), every spelling joins one
  DJ, and shows credited to any spelling are credited to that DJ's name;
- vendors merge by ``vendor_key``.

Field rules: a value beats a null; between two values the one from the
higher-confidence item wins, ties go to the lexicographically larger text;
display names prefer the more complete spelling (more letters and digits) first. Confidence is
the maximum, lists (sources, aliases, social handles) are united and sorted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pipeline.clean import dj_key, venue_key
from pipeline.clusters import (
    DATED,
    KNOWN_START,
    NO_DAY,
    ShowGroup,
    ShowKey,
    VenueKey,
    cluster_keys,
    cluster_venue_keys,
    link_components,
    weekly_groups,
)
from pipeline.matching import street_key, venue_keys_match
from pipeline.schema import WEEKDAYS, Dj, ParsedSchedule, Show, Vendor, Venue

if TYPE_CHECKING:
    pass

Item = Show | Venue | Dj | Vendor
M = TypeVar("M", Show, Venue, Dj, Vendor)
K = TypeVar("K", str, "ShowKey", VenueKey)  # the key types; all hash and sort

VenueMatcher = Callable[[str, str], bool]
"""Decides whether two venue keys name the same venue (``None`` means exact equality)."""

__all__ = ["ScheduleReducer", "ShowKey", "VenueMatcher", "cluster_keys", "show_key"]

DISPLAY_NAME_FIELDS = frozenset({"name", "venue_name"})
UNION_FIELDS = frozenset({"sources", "aliases", "social_handles", "seen_on_dates"})
# A show's time text and end time are read together from one item, so a merge
# never pairs "9pm-close" from one image with an end time of 02:00 from another.
LINKED_FIELDS = ("time", "end_time")
LINKED_PICK = "time+end_time"

_HANDLE = re.compile(r"^@|^\S*\d\S*$")  # '@djmax614', 'djmax614': a handle, not a display name
_TIME_TEXT_ONLY, _NO_TIME = 1, 2


def show_key(show: Show) -> ShowKey:
    """The identity of a show: venue key, date (else day), start time (else time text)."""
    if show.date is not None:
        when = (DATED, show.date.isoformat())
    elif show.day is not None:
        when = (WEEKDAYS.index(show.day), "")
    else:
        when = (NO_DAY, "")
    if show.start_time is not None:
        start = (KNOWN_START, show.start_time)
    elif show.time and show.time.strip():
        start = (_TIME_TEXT_ONLY, "".join(show.time.casefold().split()))
    else:
        start = (_NO_TIME, "")
    return ShowKey(venue=venue_key(show.venue_name), when=when, start=start)


def vendor_key(name: str) -> str:
    """Matching key of a vendor (company) name: folded the same way as venue names."""
    return venue_key(name)


@dataclass(frozen=True)
class Pick:
    """One candidate value of a field, with the rank that decides between candidates."""

    rank: tuple[float | str, ...]
    value: str | dt.date | tuple[str | None, ...]

    @classmethod
    def of(cls, field_name: str, value: str | dt.date, confidence: float) -> Pick:
        """Rank by confidence then text; display names rank by completeness first.

        Completeness is the count of letters and digits, so "The Rusty Nail" beats
        "Rusty Nail" but a trailing "!" or extra spaces do not make a name better.
        """
        text = value if isinstance(value, str) else value.isoformat()
        if field_name in DISPLAY_NAME_FIELDS:
            completeness = sum(char.isalnum() for char in text)
            return cls(rank=(not _HANDLE.match(text), completeness, confidence, text), value=value)
        return cls(rank=(confidence, text), value=value)


@dataclass
class MergedItem:
    """Running merge of every item sharing one key.

    A join-semilattice state: each field keeps its best candidate so far (with
    the confidence of the item that supplied it, not the merged confidence),
    so absorbing items in any order, or the same item twice, gives one result.
    """

    confidence: float = 0.0
    picks: dict[str, Pick] = field(default_factory=dict)
    unions: dict[str, set[str]] = field(default_factory=dict)

    def absorb(self, item: Item) -> None:
        """Fold one schedule item into the merge."""
        self.confidence = max(self.confidence, item.confidence)
        linked = isinstance(item, Show)
        if isinstance(item, Show):
            self._offer_linked(item)
        for name in type(item).model_fields:
            value = getattr(item, name)
            if name == "confidence" or value is None or (linked and name in LINKED_FIELDS):
                continue
            if name in UNION_FIELDS:
                self.add_to(name, *map(str, value))  # dates as ISO text, which sorts by date
            else:
                self._offer(name, Pick.of(name, value, item.confidence))

    def add_to(self, list_field: str, *values: str) -> None:
        """Unite values into a list field (sources, aliases, social handles, seen-on dates)."""
        self.unions.setdefault(list_field, set()).update(values)

    def join(self, other: MergedItem) -> None:
        """Fold another merge into this one (used when a matcher joins two keys)."""
        self.confidence = max(self.confidence, other.confidence)
        for name, pick in other.picks.items():
            self._offer(name, pick)
        for name, values in other.unions.items():
            self.add_to(name, *values)

    def _offer_linked(self, show: Show) -> None:
        values = tuple(getattr(show, name) for name in LINKED_FIELDS)
        if any(value is not None for value in values):
            known = sum(value is not None for value in values)
            self._offer(LINKED_PICK, Pick(rank=(known, show.confidence, repr(values)), value=values))

    def build(self, model: type[M]) -> M:
        """The merged item as a schema model."""
        values: dict[str, object] = {name: pick.value for name, pick in self.picks.items()}
        linked = values.pop(LINKED_PICK, None)
        if isinstance(linked, tuple):
            values.update(zip(LINKED_FIELDS, linked, strict=True))
        values.update({name: sorted(members) for name, members in self.unions.items()})
        values["confidence"] = self.confidence
        return model.model_validate(values)

    def _offer(self, name: str, pick: Pick) -> None:
        current = self.picks.get(name)
        if current is None or pick.rank > current.rank:
            self.picks[name] = pick


class ScheduleReducer:
    """Streaming merge + dedupe of per-image schedules; pure and order-independent.

    ``show_key_of`` and ``venues_match`` are the seams for matching: venue keys
    are compared by the fuzzy ``venue_keys_match`` by default; pass
    ``venues_match=None`` for exact key equality. The matcher only ever
    compares shows in one day/date and start-time bucket.
    """

    def __init__(
        self,
        *,
        show_key_of: Callable[[Show], ShowKey] = show_key,
        venues_match: VenueMatcher | None = venue_keys_match,
    ) -> None:
        self._show_key_of = show_key_of
        self._venues_match = venues_match
        self._shows: dict[ShowKey, MergedItem] = defaultdict(MergedItem)
        self._off_weekday: set[ShowKey] = set()  # dated shows whose written day is not their date's
        self._venues: dict[VenueKey, MergedItem] = defaultdict(MergedItem)
        self._djs: dict[str, MergedItem] = defaultdict(MergedItem)
        self._dj_links: set[tuple[str, str]] = set()
        self._vendors: dict[str, MergedItem] = defaultdict(MergedItem)

    @classmethod
    def merge(cls, schedules: Iterable[tuple[str, ParsedSchedule]]) -> ParsedSchedule:
        """Merge ``(source, schedule)`` pairs in one call."""
        reducer = cls()
        for source, schedule in schedules:
            reducer.add(schedule, source)
        return reducer.result()

    def add(self, schedule: ParsedSchedule, source: str) -> None:
        """Stream in one image's schedule; ``source`` joins every show's ``sources``."""
        for show in schedule.shows:
            key = self._show_key_of(show)
            merged = self._shows[key]
            merged.absorb(show)
            merged.add_to("sources", source)
            if show.date is not None and show.day not in (None, WEEKDAYS[show.date.weekday()]):
                self._off_weekday.add(key)
        for venue in schedule.venues:
            self._venues[VenueKey(venue_key(venue.name), street_key(venue.address or ""))].absorb(venue)
        for dj in schedule.djs:
            self._add_dj(dj)
        for vendor in schedule.vendors:
            self._vendors[vendor_key(vendor.name)].absorb(vendor)

    def _add_dj(self, dj: Dj) -> None:
        """Merge a DJ under its key and link it to the keys of its aliases and handles."""
        key = dj_key(dj.name)
        merged = self._djs[key]
        merged.absorb(dj)
        merged.add_to("aliases", dj.name)  # every spelling seen; the chosen one is dropped
        for other in (*dj.aliases, *dj.social_handles):
            other_key = dj_key(other)
            if other_key and other_key != key:
                low, high = sorted((key, other_key))
                self._dj_links.add((low, high))

    def result(self) -> ParsedSchedule:
        """The merged, deduplicated schedule, sorted; the reducer stays usable."""
        djs, dj_names = self._merged_djs()
        return ParsedSchedule(
            vendors=[self._vendors[key].build(Vendor) for key in sorted(self._vendors)],
            venues=self._merged_venues(),
            djs=djs,
            shows=[_credit(show, dj_names) for show in self._merged_shows()],
        )

    def _merged_shows(self) -> list[Show]:
        clusters = cluster_keys(self._shows, lambda key: key.slot, lambda key: key.venue, self._venues_match)
        groups = weekly_groups(clusters, self._venues_match, lambda key: key not in self._off_weekday)
        return [_as_weekly(_join(self._shows, group.keys).build(Show), group) for group in groups]

    def _merged_venues(self) -> list[Venue]:
        clusters = cluster_venue_keys(self._venues, self._venues_match)
        return [_join(self._venues, cluster).build(Venue) for cluster in clusters]

    def _merged_djs(self) -> tuple[list[Dj], dict[str, str]]:
        """DJs joined by key and alias links, and each spelling's key -> the DJ's name."""
        djs: list[Dj] = []
        names: dict[str, str] = {}
        for component in link_components(self._djs, self._dj_links):
            members = [key for key in component if key in self._djs]
            if not members:
                continue
            dj = _build_dj(_join(self._djs, members))
            djs.append(dj)
            names.update({key: dj.name for key in component})
            names.update({dj_key(alias): dj.name for alias in dj.aliases})
        return sorted(djs, key=lambda dj: (dj_key(dj.name), dj.name)), names


def _as_weekly(show: Show, group: ShowGroup) -> Show:
    """A show that dated sightings joined: weekly on their weekday, their dates kept as provenance."""
    if group.weekday is None:
        return show
    dates = sorted({*show.seen_on_dates, *group.dates})
    return show.model_copy(update={"day": WEEKDAYS[group.weekday], "date": None, "seen_on_dates": dates})


def _credit(show: Show, dj_names: dict[str, str]) -> Show:
    """The show credited to its DJ's merged name, when its spelling belongs to a known DJ."""
    if show.dj_name is None:
        return show
    name = dj_names.get(dj_key(show.dj_name))
    return show if name is None or name == show.dj_name else show.model_copy(update={"dj_name": name})


def _join(merges: dict[K, MergedItem], keys: list[K]) -> MergedItem:
    """One merge of every key in a cluster, leaving the stored merges untouched."""
    joined = MergedItem()
    for key in keys:
        joined.join(merges[key])
    return joined


def _build_dj(merged: MergedItem) -> Dj:
    """A DJ whose aliases are every other spelling seen, never its own name."""
    dj = merged.build(Dj)
    return dj.model_copy(update={"aliases": [a for a in dj.aliases if a != dj.name]})
