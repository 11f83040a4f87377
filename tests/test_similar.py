"""The similar-image cache on held-out image pairs: near-copies hit, same-template look-alikes never do
(neither as drawn nor after they travelled: resized, cropped, framed, re-compressed).

Thresholds in ``pipeline.similar`` were chosen on the tuning sets
(``python -m pipeline.testing.near_copies --seed N`` for seeds 1-3, 5-8 and 11, each
once its misses and false hits had been looked at); the pairs here come from seed 4,
whose misses were never looked at. Images are generated once per module.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from pipeline.cache import ResultCache, cache_key
from pipeline.schema import ParsedSchedule, Show
from pipeline.similar import fingerprint, same_picture
from pipeline.testing.near_copies import ImagePair, build_pairs, travelled

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_SEED = 4
# The issue asks for 95%. Seed 4 hits 67/70 (95.7%, 2026-12-05): one miss more and this fails.
# The pairs draw on the bundled images, so a change to the frozen corpus changes this set.
HIT_FLOOR = 0.95
IDENTITY = "gemini:test-identity"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def answer(name: str) -> ParsedSchedule:
    return ParsedSchedule(shows=[Show(venue_name=name)])


@pytest.fixture(scope="module")
def pairs() -> list[ImagePair]:
    drawn = build_pairs(ROOT, seed=HELD_OUT_SEED, synthetic=54, bundled=16)
    return drawn + travelled(drawn, HELD_OUT_SEED)


@pytest.fixture(scope="module")
def outcomes(pairs: list[ImagePair], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Every pair's first image cached (one cache), then each second image looked up: what it hit.
    A travelled look-alike's first is its template pair's, cached once."""
    cache = ResultCache(tmp_path_factory.mktemp("similar") / "cache.sqlite3")
    for pair in pairs:
        if pair.kind == "travelled":
            continue
        first = sha(pair.first)
        cache.put(cache_key(first, IDENTITY), first, answer(pair.name), pair.first)
    found: dict[str, str | None] = {}
    for pair in pairs:
        hit = cache.lookup(sha(pair.second), pair.second, IDENTITY)
        found[pair.name + ":" + pair.kind] = hit.similar_to if hit is not None else None
    cache.close()
    return found


def test_the_sets_are_as_large_as_the_issue_asks(pairs: list[ImagePair]) -> None:
    assert sum(pair.kind == "near-copy" for pair in pairs) >= 40
    assert sum(pair.kind == "template" for pair in pairs) >= 50
    assert sum(pair.kind == "travelled" for pair in pairs) >= 50


def test_near_copies_hit_their_own_original(pairs: list[ImagePair], outcomes: dict[str, str | None]) -> None:
    near = [pair for pair in pairs if pair.kind == "near-copy"]
    hits = [pair for pair in near if outcomes[pair.name + ":near-copy"] == sha(pair.first)]
    wrong = [pair.name for pair in near if outcomes[pair.name + ":near-copy"] not in (None, sha(pair.first))]
    assert not wrong, f"near-copies answered with another image's result: {wrong}"
    missed = [f"{pair.name} ({pair.change})" for pair in near if pair not in hits]
    assert len(hits) >= HIT_FLOOR * len(near), f"{len(hits)}/{len(near)} hit; missed: {missed}"


@pytest.mark.parametrize("kind", ["template", "travelled"])
def test_same_template_look_alikes_never_hit(
    kind: str, pairs: list[ImagePair], outcomes: dict[str, str | None]
) -> None:
    false_hits = [
        f"{pair.name} ({pair.change}) -> {outcomes[pair.name + ':' + kind]}"
        for pair in pairs
        if pair.kind == kind and outcomes[pair.name + ":" + kind] is not None
    ]
    assert not false_hits, f"another flyer's answer served: {false_hits}"


def test_another_identity_or_the_switch_off_never_hits(pairs: list[ImagePair], tmp_path: Path) -> None:
    pair = next(pair for pair in pairs if pair.kind == "near-copy")
    first = sha(pair.first)
    cache = ResultCache(tmp_path / "cache.sqlite3")
    cache.put(cache_key(first, IDENTITY), first, answer("one"), pair.first)
    assert cache.lookup(sha(pair.second), pair.second, IDENTITY) is not None
    assert cache.lookup(sha(pair.second), pair.second, "gemini:another-prompt") is None
    off = ResultCache(tmp_path / "cache.sqlite3", similar=False)
    assert off.lookup(sha(pair.second), pair.second, IDENTITY) is None
    exact = off.lookup(first, pair.first, IDENTITY)
    assert exact is not None and exact.similar_to is None


def test_clearing_and_pruning_drop_the_fingerprints(pairs: list[ImagePair], tmp_path: Path) -> None:
    near = [pair for pair in pairs if pair.kind == "near-copy"][:3]
    cache = ResultCache(tmp_path / "cache.sqlite3", max_entries=1)
    for pair in near:
        first = sha(pair.first)
        cache.put(cache_key(first, IDENTITY), first, answer(pair.name), pair.first)
    cache._prune()  # the size check runs every 100 puts: force it now
    assert cache.lookup(sha(near[0].second), near[0].second, IDENTITY) is None  # its entry is gone
    cache.clear()
    assert cache.lookup(sha(near[-1].second), near[-1].second, IDENTITY) is None


def test_tiny_or_blank_images_are_matched_by_exact_bytes_only() -> None:
    from pipeline.testing.scripted import make_scripted_png

    assert fingerprint(make_scripted_png(venue="A")) is None  # 32x24
    assert fingerprint(make_scripted_png(venue="A", size=(400, 300))) is None  # one colour
    assert fingerprint(b"not an image") is None


def test_fingerprints_are_cheap_enough(pairs: list[ImagePair]) -> None:
    """Not a timing test: a generous bound that catches a fingerprint decoding at the wrong size."""
    images = [pair.first for pair in pairs[:10]]
    started = time.process_time()
    found = [fingerprint(image) for image in images]
    assert all(found)
    assert (time.process_time() - started) / len(images) < 1.0


def test_a_pair_confirms_symmetrically(pairs: list[ImagePair]) -> None:
    pair = next(pair for pair in pairs if pair.kind == "near-copy" and "resize" in pair.change)
    a, b = fingerprint(pair.first), fingerprint(pair.second)
    assert a is not None and b is not None
    assert same_picture(a, b) and same_picture(b, a)
