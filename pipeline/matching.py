"""Fuzzy identity of venue names and streets, shared by the reducer and the evaluator.

Two spellings name the same venue when their keys (see ``pipeline.clean.venue_key``:
folded, no leading 'The', no spaces) are equal, when one key is the other plus
only generic words ('Oties' and 'Oties Tavern & Grill'), or when they differ by
a few letters, as OCR and typing do ('Oneilly's Sports Pub' and 'O'Nelly's Sports
Pub'). Names with different numbers never match, and a short name must match
exactly: 'Kelley's Pub' and 'Kelly's Tavern' stay two venues.

Every rule is symmetric, so clustering with it depends only on the set of names.
rapidfuzz is imported on first use to keep ``pipeline.reduce`` quick to import.

Comparing every pair of keys is quadratic, so ``venue_key_pairs`` finds the
matching pairs by blocking, one complete filter per rule (a pair the matcher
joins is never filtered out; every candidate is then checked by the matcher):

- equal keys: a set;
- one key extends the other by generic words: each key's cores (the key without
  generic words at its start or end) are looked up;
- a misspelling (``fuzz.ratio`` >= ``FUZZY_RATIO``, both keys at least 8 long,
  equal numbers): keys with the same numbers, of close enough lengths, that share
  one of their rarest letter pairs. An Indel edit breaks at most two letter pairs,
  so two keys within ``d`` edits share all but ``2d`` of them, and the prefix
  filter (the ``2d + 1`` rarest pairs of each key must meet) cannot miss them.
  Each block is scored in C by ``rapidfuzz.process.cdist`` with a cutoff.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator

from pipeline.clean import venue_key

__all__ = [
    "FUZZY_RATIO",
    "GENERIC_VENUE_WORDS",
    "has_blocking",
    "street_key",
    "venue_key_pairs",
    "venue_keys_match",
    "venue_names_match",
]

FUZZY_RATIO = 88.0
"""rapidfuzz ratio (0-100) above which two long keys are one name misspelt."""
_MIN_FUZZY_LENGTH = 8
_MIN_CORE_LENGTH = 4

GENERIC_VENUE_WORDS: tuple[str, ...] = (
    "and", "bar", "bars", "grill", "grille", "pub", "tavern", "lounge", "saloon", "sports", "sport",
    "restaurant", "cafe", "taproom", "tap", "taphouse", "house", "brewery", "brewing", "company", "co",
    "inn", "club", "kitchen", "eatery", "bistro", "cantina", "bbq", "nightclub", "pizza", "pizzeria",
    "tavernandgrill", "spirits", "cocktails", "ale", "alehouse", "room", "karaoke",
)  # fmt: skip
_GENERIC = re.compile("(?:" + "|".join(sorted(GENERIC_VENUE_WORDS, key=len, reverse=True)) + ")+")


def _only_generic(rest: str) -> bool:
    """True when ``rest`` is made only of generic venue words ('tavernandgrill')."""
    return bool(rest) and _GENERIC.fullmatch(rest) is not None


def _extends(short: str, long: str) -> bool:
    """``long`` is ``short`` with generic words before or after it."""
    if len(short) < _MIN_CORE_LENGTH or _only_generic(short):
        return False
    if long.startswith(short):
        return _only_generic(long[len(short) :])
    if long.endswith(short):
        return _only_generic(long[: -len(short)])
    return False


def _keys_match(first: str, second: str) -> bool:
    """The matching rule itself, uncached (the index checks many one-off pairs with it)."""
    if first == second:
        return True
    if _numbers(first) != _numbers(second):
        return False
    short, long = sorted((first, second), key=lambda key: (len(key), key))
    if _extends(short, long):
        return True
    if len(short) < _MIN_FUZZY_LENGTH:
        return False
    from rapidfuzz import fuzz

    return fuzz.ratio(first, second) >= FUZZY_RATIO


@functools.lru_cache(maxsize=65536)
def venue_keys_match(first: str, second: str) -> bool:
    """Whether two venue keys name the same venue (symmetric; exact keys always match)."""
    return _keys_match(first, second)


def venue_names_match(first: str, second: str) -> bool:
    """Whether two venue names as written name the same venue."""
    return venue_keys_match(venue_key(first), venue_key(second))


# --- blocking: the keys a key matches, without comparing it with every key ----------

_MAX_EDIT_SHARE = (100.0 - FUZZY_RATIO) / 100.0  # ratio >= 88 <=> Indel distance <= 0.12 * (len1 + len2)
_SLACK = 1e-6  # bounds are rounded outwards: a looser filter only adds candidates


@functools.lru_cache(maxsize=1 << 16)
def _numbers(key: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", key))


def _longest_partner(length: int) -> int:
    """The longest key a key of ``length`` can fuzzily match (Indel distance >= length difference)."""
    return math.floor(length * (1 + _MAX_EDIT_SHARE) / (1 - _MAX_EDIT_SHARE) + _SLACK)


def _shortest_partner(length: int) -> int:
    return math.ceil(length * (1 - _MAX_EDIT_SHARE) / (1 + _MAX_EDIT_SHARE) - _SLACK)


def _prefix_size(length: int) -> int:
    """How many of a key's rarest letter pairs the prefix filter indexes: ``2 * dmax + 1``."""
    most_edits = math.floor(_MAX_EDIT_SHARE * (length + _longest_partner(length)) + _SLACK)
    return 2 * most_edits + 1


def _letter_pairs(key: str) -> tuple[str, ...]:
    """The key's letter pairs, each numbered by occurrence ('ab0', 'ab1'), so a multiset becomes a set."""
    seen: dict[str, int] = {}
    pairs: list[str] = []
    for start in range(len(key) - 1):
        pair = key[start : start + 2]
        count = seen.get(pair, 0)
        pairs.append(f"{pair}{count}")
        seen[pair] = count + 1
    return tuple(pairs)


_GENERIC_BY_FIRST: dict[str, tuple[str, ...]] = {
    letter: tuple(word for word in GENERIC_VENUE_WORDS if word[0] == letter)
    for letter in {w[0] for w in GENERIC_VENUE_WORDS}
}
_GENERIC_BY_LAST: dict[str, tuple[str, ...]] = {
    letter: tuple(word for word in GENERIC_VENUE_WORDS if word[-1] == letter)
    for letter in {w[-1] for w in GENERIC_VENUE_WORDS}
}


def _generic_ends(key: str, forward: bool) -> set[int]:
    """Cut points where the key's start (``forward``) or end is made only of generic words."""
    reached: set[int] = set()
    frontier = [0 if forward else len(key)]
    while frontier:
        position = frontier.pop()
        if forward:
            steps = [
                position + len(w)
                for w in _GENERIC_BY_FIRST.get(key[position : position + 1], ())
                if key.startswith(w, position)
            ]
        else:
            steps = [
                position - len(w)
                for w in _GENERIC_BY_LAST.get(key[position - 1 : position], ())
                if key.endswith(w, 0, position)
            ]
        for step in steps:
            if step not in reached:
                reached.add(step)
                frontier.append(step)
    return reached


def _cores(key: str) -> frozenset[str]:
    """Every shorter key that ``key`` extends by generic words at its start or end."""
    cuts = [key[cut:] for cut in _generic_ends(key, forward=True)]
    cuts += [key[:cut] for cut in _generic_ends(key, forward=False)]
    return frozenset(core for core in cuts if len(core) >= _MIN_CORE_LENGTH and not _only_generic(core))


Pair = tuple[str, str]
_BLOCK_AT_ONCE = 64  # keys of one number group this few are compared all at once, not by letter pairs
_ROWS_PER_CALL = 256  # rows of one cdist call: its score matrix is this many bytes per column


def venue_key_pairs(left: Collection[str], right: Collection[str] | None = None) -> set[Pair]:
    """Every pair that ``venue_keys_match`` joins, found by blocking instead of trying all pairs.

    With ``right``: pairs ``(a, b)``, ``a`` from ``left`` and ``b`` from ``right``,
    equal keys included. Without: pairs of two keys of ``left``, ``a < b``. The
    answer is the matcher's own: candidates come from complete filters (see the
    module docstring) and each is confirmed by the matching rule.
    """
    within = right is None
    lefts = set(left)
    rights = lefts if right is None else set(right)
    candidates = _extensions(lefts, rights) | _misspellings(lefts, rights, within)
    if not within:
        candidates.update((key, key) for key in lefts & rights)
    found = {pair for pair in candidates if pair[0] != pair[1] and _keys_match(*pair)}
    if within:
        return {(a, b) if a < b else (b, a) for a, b in found}
    return found | {(key, key) for key in lefts & rights}


def _extensions(lefts: set[str], rights: set[str]) -> set[Pair]:
    """Pairs where one key is the other plus generic words (cores looked up both ways)."""
    cores = {key: _cores(key) for key in lefts | rights}
    extended_by: dict[str, list[str]] = defaultdict(list)
    for key in rights:
        for core in cores[key]:
            extended_by[core].append(key)
    pairs = {(key, core) for key in lefts for core in cores[key] if core in rights}
    pairs.update((key, longer) for key in lefts for longer in extended_by.get(key, ()))
    return pairs


def _misspellings(lefts: set[str], rights: set[str], within: bool) -> set[Pair]:
    """Pairs scoring near ``FUZZY_RATIO``: blocks of keys sharing numbers and a prefix letter pair.

    Each block is scored whole by ``rapidfuzz.process.cdist`` (in C, with a
    cutoff); the rule then decides. Small number groups are one block.
    """
    groups: dict[tuple[str, ...], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for side, keys in enumerate((lefts, rights)):
        for key in sorted(keys):
            if len(key) >= _MIN_FUZZY_LENGTH:
                groups[_numbers(key)][side].append(key)
    letter_pairs = {key: _letter_pairs(key) for key in lefts | rights if len(key) >= _MIN_FUZZY_LENGTH}
    counts = Counter(pair for pairs_of_key in letter_pairs.values() for pair in pairs_of_key)
    order = {pair: rank for rank, pair in enumerate(sorted(counts, key=lambda pair: (counts[pair], pair)))}
    prefixes = {key: _rarest_pairs(pairs_of_key, order) for key, pairs_of_key in letter_pairs.items()}
    pairs: set[Pair] = set()
    for group_left, group_right in groups.values():
        if not group_left or not group_right:
            continue
        if len(group_left) + len(group_right) <= 2 * _BLOCK_AT_ONCE:
            pairs |= _scored_pairs(group_left, group_right, within)
            continue
        for block_left, block_right in _blocks(group_left, group_right, prefixes):
            if not within or len(block_left) > 1:
                pairs |= _scored_pairs(block_left, block_right, within)
    return pairs


def _blocks(
    lefts: list[str], rights: list[str], prefixes: dict[str, list[str] | None]
) -> Iterator[tuple[list[str], list[str]]]:
    """Blocks of keys whose prefixes (rarest letter pairs) share one pair; any matching pair meets in one.

    A key the filter cannot bound (``_rarest_pairs`` is None) is blocked with every key of the other side.
    """
    blocks: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    unbounded: tuple[list[str], list[str]] = ([], [])
    for side, keys in enumerate((lefts, rights)):
        for key in keys:
            prefix = prefixes[key]
            if prefix is None:
                unbounded[side].append(key)
            for pair in prefix or ():
                blocks[pair][side].append(key)
    yield from (block for block in blocks.values() if block[0] and block[1])
    if unbounded[0]:
        yield unbounded[0], rights
    if unbounded[1]:
        yield lefts, unbounded[1]


def _rarest_pairs(pairs: tuple[str, ...], order: dict[str, int]) -> list[str] | None:
    """The ``2 dmax + 1`` first of the key's letter pairs in ``order`` (rarest first), the filter's prefix.

    None when the filter cannot bound this key (``dmax`` edits could break all its pairs).
    """
    size = _prefix_size(len(pairs) + 1)  # a key of n letters has n - 1 letter pairs
    if size > len(pairs):
        return None
    return sorted(pairs, key=order.__getitem__)[:size]


def _scored_pairs(lefts: list[str], rights: list[str], within: bool) -> set[Pair]:
    """Pairs of ``lefts`` x ``rights`` that rapidfuzz scores at least ``FUZZY_RATIO - 1`` (then checked).

    Keys are sorted by length, so each slice of rows is scored only against the
    columns of a length it can match (and, within one set, only from its own
    position on: each pair once).
    """
    import numpy as np
    from rapidfuzz import fuzz, process

    columns = sorted(rights, key=len)
    lengths = [len(key) for key in columns]
    rows = columns if within else sorted(lefts, key=len)
    pairs: set[Pair] = set()
    for start in range(0, len(rows), _ROWS_PER_CALL):
        chunk = rows[start : start + _ROWS_PER_CALL]
        low = start if within else bisect.bisect_left(lengths, _shortest_partner(len(chunk[0])))
        high = bisect.bisect_right(lengths, _longest_partner(len(chunk[-1])))
        window = columns[low:high]
        if not window:
            continue
        scores = process.cdist(chunk, window, scorer=fuzz.ratio, score_cutoff=FUZZY_RATIO - 1, dtype=np.uint8)
        pairs.update((chunk[row], window[column]) for row, column in zip(*np.nonzero(scores), strict=True))
    return pairs


def has_blocking(match: Callable[[str, str], bool]) -> bool:
    """Whether pairs for ``match`` can be found by ``venue_key_pairs`` (the default matcher's own)."""
    return match is venue_keys_match


_STREET_WORDS: dict[str, str] = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "lane": "ln", "parkway": "pkwy", "highway": "hwy", "court": "ct", "place": "pl", "circle": "cir",
    "terrace": "ter", "trail": "trl", "square": "sq", "north": "n", "south": "s", "east": "e",
    "west": "w", "suite": "ste",
}  # fmt: skip


def street_key(street: str) -> str:
    """Matching key of a street: '123 Main Street' and '123 Main St.' give '123 main st'."""
    words = re.findall(r"[a-z0-9]+", street.lower())
    return " ".join(_STREET_WORDS.get(word, word) for word in words)
