"""Grouping of matching keys for the reducer, in ways that depend only on the set of keys.

The reducer stores one running merge per key; these functions decide which keys
are one item. Each sorts its input and builds clusters with a union-find, so
the grouping never depends on the order images arrived in. ``weekly_groups``
then folds dated sightings of a weekly night into one weekly show.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pipeline.matching import has_blocking, venue_key_pairs

__all__ = [
    "DATED",
    "KNOWN_START",
    "NO_DAY",
    "ShowGroup",
    "ShowKey",
    "VenueKey",
    "cluster_keys",
    "cluster_venue_keys",
    "is_weekly_series",
    "link_components",
    "weekly_groups",
]

DATED, NO_DAY = 7, 8
"""``ShowKey.when[0]`` of a dated show and of a show with neither day nor date (0-6: a weekday)."""
KNOWN_START = 0
"""``ShowKey.start[0]`` of a show whose start time is known (1: time text only, 2: no time)."""


class _Sortable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


S = TypeVar("S", bound=_Sortable)


@dataclass(frozen=True, order=True)
class ShowKey:
    """Identity of a show and its place in the output order.

    ``when`` is ``(weekday index, "")`` for a weekly show, ``(DATED, "YYYY-MM-DD")``
    for a dated one and ``(NO_DAY, "")`` when neither is known; ``start`` is
    ``(KNOWN_START, "HH:MM")``, ``(1, folded time text)`` or ``(2, "")``. Sorting
    keys sorts shows by venue, then day/date, then start time.
    """

    venue: str
    when: tuple[int, str]
    start: tuple[int, str]

    @property
    def slot(self) -> tuple[tuple[int, str], tuple[int, str]]:
        """Day/date and start: the part of the key that must always match exactly."""
        return (self.when, self.start)

    @property
    def date(self) -> dt.date | None:
        """The date of a dated show."""
        return dt.date.fromisoformat(self.when[1]) if self.when[0] == DATED else None

    @property
    def night(self) -> tuple[int, str] | None:
        """Weekday index and known start time: what a weekly show and its dated sightings share."""
        date = self.date
        weekday = date.weekday() if date is not None else self.when[0]
        return (weekday, self.start[1]) if weekday < DATED and self.start[0] == KNOWN_START else None


@dataclass(frozen=True)
class ShowGroup:
    """The keys of one output show; ``weekday`` is set when dated sightings fold into a weekly show."""

    keys: list[ShowKey]
    weekday: int | None = None
    dates: list[dt.date] = field(default_factory=list)

    @classmethod
    def weekly(cls, keys: list[ShowKey], weekday: int) -> ShowGroup:
        """A weekly show made of these keys; the dated ones give their dates as provenance."""
        ordered = sorted(keys)
        dates = sorted({date for key in ordered if (date := key.date) is not None})
        return cls(ordered, weekday, dates)

    @property
    def order(self) -> ShowKey:
        """Where the show sorts: its smallest key, read as a weekly key when it became weekly."""
        first = self.keys[0]
        if self.weekday is None or first.date is None:
            return first
        return ShowKey(first.venue, (self.weekday, ""), first.start)


@dataclass(frozen=True, order=True)
class VenueKey:
    """Identity of a venue entry: its name key and its street key ('' when no address)."""

    name: str
    street: str


class _UnionFind(Generic[S]):
    """Union-find whose root is always the smallest member, so results are order-free."""

    def __init__(self, members: Iterable[S]) -> None:
        self._parent: dict[S, S] = {member: member for member in members}

    def __contains__(self, member: S) -> bool:
        return member in self._parent

    def root(self, member: S) -> S:
        parent = self._parent
        top = member
        while parent[top] != top:
            top = parent[top]
        while parent[member] != top:  # path compression: the root (the smallest member) is unchanged
            parent[member], member = top, parent[member]
        return top

    def union(self, first: S, second: S) -> None:
        low, high = sorted((self.root(first), self.root(second)))
        self._parent[high] = low

    def groups(self, ordered: Iterable[S]) -> list[list[S]]:
        """Members grouped by root, each group and the groups in ``ordered`` order."""
        grouped: dict[S, list[S]] = defaultdict(list)
        for member in ordered:
            grouped[self.root(member)].append(member)
        return list(grouped.values())


def cluster_keys(
    keys: Iterable[S],
    bucket_of: Callable[[S], Hashable],
    name_of: Callable[[S], str],
    names_match: Callable[[str, str], bool] | None,
) -> list[list[S]]:
    """Group keys whose names ``names_match`` matches, only ever within one bucket.

    Clusters are the transitive closure of matching pairs, each listed in
    sorted order and the clusters sorted by their smallest key, so the grouping
    depends only on the set of keys. ``names_match=None`` means exact equality:
    every key is its own cluster. The default venue matcher finds its pairs by
    blocking (``venue_key_pairs``); any other is asked about every pair in a bucket.
    """
    ordered = sorted(keys)
    if names_match is None:
        return [[key] for key in ordered]
    found = _UnionFind(ordered)
    buckets: dict[Hashable, list[S]] = defaultdict(list)
    for key in ordered:
        buckets[bucket_of(key)].append(key)
    for members in buckets.values():
        if len(members) < 2:
            continue
        for first, second in _matching_pairs(members, name_of, names_match):
            found.union(first, second)
    return found.groups(ordered)


def _matching_pairs(
    members: list[S], name_of: Callable[[S], str], names_match: Callable[[str, str], bool]
) -> Iterator[tuple[S, S]]:
    """Pairs of one bucket's members whose names match: enough pairs to give every cluster."""
    if not has_blocking(names_match):
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                if names_match(name_of(first), name_of(second)):
                    yield first, second
        return
    by_name: dict[str, list[S]] = defaultdict(list)
    for member in members:
        by_name[name_of(member)].append(member)
    for named in by_name.values():  # equal names always match
        yield from ((named[0], member) for member in named[1:])
    for first_name, second_name in venue_key_pairs(by_name):
        yield by_name[first_name][0], by_name[second_name][0]


def link_components(keys: Iterable[str], links: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components of ``keys`` under ``links`` (pairs seen together in one item).

    Keys met only in links (an alias no item is named by) are nodes too, so two
    DJs sharing one handle join; callers drop them from the components as needed.
    """
    pairs = sorted(links)
    ordered = sorted({*keys, *(key for pair in pairs for key in pair)})
    found = _UnionFind(ordered)
    for first, second in pairs:
        found.union(first, second)
    return found.groups(ordered)


def cluster_venue_keys(
    keys: Iterable[VenueKey], names_match: Callable[[str, str], bool] | None
) -> list[list[VenueKey]]:
    """Venues grouped by name and address.

    Entries with a street merge when their names match and their streets are
    equal, so two branches of one chain stay apart. Entries without a street
    are first grouped by name; such a group then joins the one addressed venue
    its names match, and stays on its own when they match none or several.
    (``names_match=None``: names match when equal; keys are unique, so no two
    entries of one bucket share a name.)
    """
    ordered = sorted(keys)
    addressed = cluster_keys([key for key in ordered if key.street], _street_of, _name_of, names_match)
    bare = cluster_keys([key for key in ordered if not key.street], lambda key: None, _name_of, names_match)
    homes_of = _home_finder(addressed, bare, names_match)
    for group in bare:
        homes = homes_of(group)
        if len(homes) == 1:
            homes[0].extend(group)
        else:
            addressed.append(group)
    return sorted((sorted(cluster) for cluster in addressed), key=lambda cluster: cluster[0])


def _street_of(key: VenueKey) -> str:
    return key.street


def _name_of(key: VenueKey) -> str:
    return key.name


def _home_finder(
    addressed: list[list[VenueKey]],
    bare: list[list[VenueKey]],
    names_match: Callable[[str, str], bool] | None,
) -> Callable[[list[VenueKey]], list[list[VenueKey]]]:
    """For a group of address-less entries: the addressed clusters its names match.

    With blocking (or exact names) only the clusters as they stand now are
    searched: bare groups are closed under the matcher, so no bare group is a
    home of another. Any other matcher is asked about every name of every
    cluster, bare groups added since included, as always.
    """
    if names_match is not None and not has_blocking(names_match):
        same = names_match
        return lambda group: [c for c in addressed if any(same(b.name, a.name) for b in group for a in c)]
    clusters_of: dict[str, list[int]] = defaultdict(list)
    for position, cluster in enumerate(addressed):
        for key in cluster:
            clusters_of[key.name].append(position)
    bare_names = {key.name for group in bare for key in group}
    if names_match is None:
        pairs = {(name, name) for name in bare_names if name in clusters_of}
    else:
        pairs = venue_key_pairs(bare_names, clusters_of)
    matched: dict[str, list[str]] = defaultdict(list)
    for bare_name, addressed_name in pairs:
        matched[bare_name].append(addressed_name)
    homes = list(addressed)  # the clusters as they stand: later appends are never homes

    def find(group: list[VenueKey]) -> list[list[VenueKey]]:
        positions = {p for key in group for name in matched.get(key.name, ()) for p in clusters_of[name]}
        return [homes[position] for position in sorted(positions)]

    return find


# --- weekly shows from dated sightings ----------------------------------------------


def weekly_groups(
    clusters: list[list[ShowKey]],
    names_match: Callable[[str, str], bool] | None,
    foldable: Callable[[ShowKey], bool],
) -> list[ShowGroup]:
    """Show clusters (one slot each, from ``cluster_keys``) with dated sightings folded into weekly shows.

    A dated cluster whose keys are all ``foldable`` and whose start time is known
    joins the one weekly cluster of its night (weekday and start time) whose venue
    names match its own; when it matches several it stays dated. Dated clusters
    with no weekly cluster are grouped across dates by night and venue; a group
    seen on two dates exactly one week apart is one weekly show (``is_weekly_series``),
    any other keeps its dated clusters. Groups are sorted by ``ShowGroup.order``.
    """
    same = names_match or _equal_names
    groups: list[ShowGroup] = []
    weekly: dict[tuple[int, str], list[list[ShowKey]]] = defaultdict(list)
    dated: dict[tuple[int, str], list[list[ShowKey]]] = defaultdict(list)
    for cluster in clusters:
        night = cluster[0].night
        if night is not None and cluster[0].date is None:
            weekly[night].append(cluster)
        elif night is not None and all(foldable(key) for key in cluster):
            dated[night].append(cluster)
        else:
            groups.append(ShowGroup(cluster))
    unhomed: list[list[ShowKey]] = []
    for night, homes in weekly.items():
        strays = dated.pop(night, [])
        joined: list[list[ShowKey]] = [[] for _ in homes]
        for stray, found in zip(strays, _homes(strays, homes, same), strict=True):
            if len(found) == 1:
                joined[found[0]].extend(stray)
            elif found:
                groups.append(ShowGroup(stray))  # several weekly shows match: it stays dated
            else:
                unhomed.append(stray)
        for home, extra in zip(homes, joined, strict=True):
            groups.append(ShowGroup.weekly(home + extra, night[0]) if extra else ShowGroup(home))
    unhomed += [stray for strays in dated.values() for stray in strays]
    groups += _series_groups(unhomed, same)
    return sorted(groups, key=lambda group: group.order)


def is_weekly_series(dates: Iterable[dt.date]) -> bool:
    """Two of the dates are exactly one week apart (two weeks or more fits a monthly night too)."""
    seen = set(dates)
    return any(date + dt.timedelta(days=7) in seen for date in seen)


def _equal_names(first: str, second: str) -> bool:
    return first == second


def _homes(
    strays: list[list[ShowKey]], homes: list[list[ShowKey]], same: Callable[[str, str], bool]
) -> list[list[int]]:
    """For each stray cluster of one night, the positions of the home clusters its venue names match."""
    homes_of: dict[str, set[int]] = defaultdict(set)
    for position, home in enumerate(homes):
        for key in home:
            homes_of[key.venue].add(position)
    stray_names = {key.venue for stray in strays for key in stray}
    if has_blocking(same):
        pairs = venue_key_pairs(stray_names, homes_of)
    else:
        pairs = {
            (name, home) for name in sorted(stray_names) for home in sorted(homes_of) if same(name, home)
        }
    matched: dict[str, set[int]] = defaultdict(set)
    for name, home_name in pairs:
        matched[name] |= homes_of[home_name]
    return [sorted({position for key in stray for position in matched[key.venue]}) for stray in strays]


def _series_groups(strays: list[list[ShowKey]], same: Callable[[str, str], bool]) -> list[ShowGroup]:
    """Dated clusters grouped across dates by night and venue: a weekly series, or each as it was."""
    cluster_of = {key: position for position, stray in enumerate(strays) for key in stray}
    groups: list[ShowGroup] = []
    for series in cluster_keys(cluster_of, _night_of, _venue_of, same):
        night = series[0].night
        if night is not None and is_weekly_series(key.date for key in series if key.date is not None):
            groups.append(ShowGroup.weekly(series, night[0]))
        else:
            positions = sorted({cluster_of[key] for key in series})
            groups += [ShowGroup(strays[position]) for position in positions]
    return groups


def _night_of(key: ShowKey) -> tuple[int, str] | None:
    return key.night


def _venue_of(key: ShowKey) -> str:
    return key.venue
