"""Grouping of matching keys for the reducer, in ways that depend only on the set of keys.

The reducer stores one running merge per key; these functions decide which keys
are one item. Each sorts its input and builds clusters with a union-find, so
the grouping never depends on the order images arrived in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pipeline.matching import has_blocking, venue_key_pairs

__all__ = ["VenueKey", "cluster_keys", "cluster_venue_keys", "link_components"]


class _Sortable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


S = TypeVar("S", bound=_Sortable)


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
