"""Grouping of matching keys for the reducer, in ways that depend only on the set of keys.

The reducer stores one running merge per key; these functions decide which keys
are one item. Each sorts its input and builds clusters with a union-find, so
the grouping never depends on the order images arrived in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

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
        while self._parent[member] != member:
            member = self._parent[member]
        return member

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
    same: Callable[[S, S], bool] | None,
) -> list[list[S]]:
    """Group keys that ``same`` matches, only ever within one bucket.

    Clusters are the transitive closure of matching pairs, each listed in
    sorted order and the clusters sorted by their smallest key, so the grouping
    depends only on the set of keys. ``same=None`` means exact equality: every
    key is its own cluster and no pairwise pass is needed.
    """
    ordered = sorted(keys)
    if same is None:
        return [[key] for key in ordered]
    found = _UnionFind(ordered)
    buckets: dict[Hashable, list[S]] = defaultdict(list)
    for key in ordered:
        buckets[bucket_of(key)].append(key)
    for members in buckets.values():
        for index, first in enumerate(members):
            for second in members[index + 1 :]:
                if same(first, second):
                    found.union(first, second)
    return found.groups(ordered)


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
    """
    same = names_match or (lambda first, second: first == second)
    ordered = sorted(keys)
    addressed = cluster_keys(
        [key for key in ordered if key.street], lambda key: key.street, lambda a, b: same(a.name, b.name)
    )
    bare = cluster_keys(
        [key for key in ordered if not key.street], lambda key: None, lambda a, b: same(a.name, b.name)
    )
    for group in bare:
        homes = [c for c in addressed if any(same(b.name, a.name) for b in group for a in c)]
        if len(homes) == 1:
            homes[0].extend(group)
        else:
            addressed.append(group)
    return sorted((sorted(cluster) for cluster in addressed), key=lambda cluster: cluster[0])
