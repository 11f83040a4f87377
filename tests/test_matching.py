"""Tests of pipeline/matching.py: the blocked pair search finds exactly the matcher's pairs.

``venue_key_pairs`` must never change an answer, only the work: every test
compares it with asking ``venue_keys_match`` about every pair. Number groups
smaller than ``_BLOCK_AT_ONCE`` are scored whole, so each test also runs with
that shortcut off, to put the letter-pair blocks themselves to the test.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import matching
from pipeline.clean import venue_key
from pipeline.matching import venue_key_pairs, venue_keys_match

# Spellings that sit near the rules' edges: typos, generic words, numbers, short cores.
PARTS = [
    "oneillys", "onellys", "oneilly", "crescent", "cresent", "kelleys", "kellys", "sand", "sandbar",
    "rusty", "rustee", "nail", "anchor", "anchors", "oties", "blue", "moon", "lucky", "shamrock",
    "tavern", "pub", "bar", "grill", "and", "sports", "lounge", "house", "taproom", "the",
    "145", "154", "7", "route", "66", "zanzibar", "quokka", "jukebox",
]  # fmt: skip


def pairwise(left: set[str], right: set[str] | None = None) -> set[tuple[str, str]]:
    """The reference: the matcher asked about every pair."""
    if right is None:
        ordered = sorted(left)
        return {(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if venue_keys_match(a, b)}
    return {(a, b) for a in left for b in right if venue_keys_match(a, b)}


@pytest.fixture(params=["default", "blocks-always"])
def block_at_once(request: pytest.FixtureRequest) -> Iterator[None]:
    size = matching._BLOCK_AT_ONCE if request.param == "default" else 0
    with mock.patch.object(matching, "_BLOCK_AT_ONCE", size):
        yield


def typo(word: str, rng: random.Random) -> str:
    """The word with one letter dropped, doubled or swapped with the next."""
    at = rng.randrange(len(word))
    change = rng.randrange(3)
    if change == 0:
        return word[:at] + word[at + 1 :]
    if change == 1:
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1 : at + 2] + word[at : at + 1] + word[at + 2 :]


def spellings(rng: random.Random, count: int) -> set[str]:
    """Venue keys made of 1-4 parts, a quarter of them with a typo."""
    keys: set[str] = set()
    while len(keys) < count:
        key = "".join(rng.choice(PARTS) for _ in range(rng.randint(1, 4)))
        keys.add(typo(key, rng) if rng.random() < 0.25 else key)
    return keys


keys_strategy = st.sets(
    st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map("".join), min_size=2, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(keys=keys_strategy)
def test_pairs_within_one_set_are_the_pairwise_ones(keys: set[str]) -> None:
    for size in (matching._BLOCK_AT_ONCE, 0):
        with mock.patch.object(matching, "_BLOCK_AT_ONCE", size):
            assert venue_key_pairs(keys) == pairwise(keys)


@settings(max_examples=200, deadline=None)
@given(left=keys_strategy, right=keys_strategy)
def test_pairs_across_two_sets_are_the_pairwise_ones(left: set[str], right: set[str]) -> None:
    for size in (matching._BLOCK_AT_ONCE, 0):
        with mock.patch.object(matching, "_BLOCK_AT_ONCE", size):
            assert venue_key_pairs(left, right) == pairwise(left, right)


@pytest.mark.usefixtures("block_at_once")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hundreds_of_spellings_give_the_pairwise_pairs(seed: int) -> None:
    keys = spellings(random.Random(seed), 500)
    expected = pairwise(keys)
    assert len(expected) > 50  # the corpus really has typos and generic-word variants to find
    assert venue_key_pairs(keys) == expected


@pytest.mark.usefixtures("block_at_once")
def test_a_typo_is_found_among_many_names() -> None:
    rng = random.Random(7)
    fillers = {
        key for key in spellings(rng, 400) if not venue_keys_match(key, venue_key("Oneilly's Sports Pub"))
    }
    keys = fillers | {venue_key("Oneilly's Sports Pub"), venue_key("O'Nelly's Sports Pub")}
    assert ("oneillyssportspub", "onellyssportspub") in venue_key_pairs(keys)


@pytest.mark.usefixtures("block_at_once")
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Zanzibar Jukebox Lounge", "Zanzibar Quokka Lounge"),  # differ only in one rare word
        ("Route 66 Bar", "Route 67 Bar"),  # differ only in a number
        ("Kelley's Pub", "Kelly's Tavern"),  # short cores
    ],
)
def test_names_differing_in_one_rare_part_stay_apart_among_many(first: str, second: str) -> None:
    keys = spellings(random.Random(11), 300) | {venue_key(first), venue_key(second)}
    pairs = venue_key_pairs(keys)
    assert (min(venue_key(first), venue_key(second)), max(venue_key(first), venue_key(second))) not in pairs
    assert pairs == pairwise(keys)


def test_equal_keys_pair_across_sets_but_not_within_one() -> None:
    assert venue_key_pairs({"rustynail"}, {"rustynail"}) == {("rustynail", "rustynail")}
    assert venue_key_pairs({"rustynail"}) == set()


def test_a_core_joins_its_extension_by_generic_words_before_or_after_it() -> None:
    keys = {"oties", "otiestavernandgrill", "puboties", "pubotiesbar", "otiesx"}
    # generic words on both sides at once are not an extension ('oties' / 'pubotiesbar'), as in the matcher
    expected = {("oties", "otiestavernandgrill"), ("oties", "puboties"), ("puboties", "pubotiesbar")}
    assert venue_key_pairs(keys) == expected == pairwise(keys)
