"""The cluster's request budget, without Ray: sliding-window slots and the AIMD worker cap."""

from __future__ import annotations

import random

import pytest

from pipeline.ratelimit import RateLimitOptions, RequestBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_goes_at_once_then_waits_for_the_window() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=3, window_s=60, margin_s=0), clock)
    assert [budget.reserve() for _ in range(3)] == [0, 0, 0]
    assert budget.reserve() == pytest.approx(60)
    clock.now += 10
    assert budget.reserve() == pytest.approx(50)


def test_no_window_ever_holds_more_than_the_limit() -> None:
    clock = Clock()
    rpm, window = 7, 5.0
    budget = RequestBudget(RateLimitOptions(rpm=rpm, window_s=window, margin_s=0), clock)
    rng = random.Random(4)
    sent = []
    for _ in range(200):
        clock.now += rng.expovariate(3.0)  # callers arrive faster than the limit allows
        sent.append(clock.now + budget.reserve())
    sent.sort()
    busiest = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
    assert busiest == rpm
    # and the limit is used, not wasted: 200 requests take about 200 / rpm windows
    assert (sent[-1] - sent[0]) < (200 / rpm) * window * 1.05


def test_the_margin_spaces_windows_for_request_travel_time() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=2, window_s=10, margin_s=0.5), clock)
    assert [budget.reserve() for _ in range(4)] == [0, 0, pytest.approx(10.5), pytest.approx(10.5)]


def test_a_429_holds_new_slots_for_retry_after() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=100), clock)
    budget.rate_limited(retry_after=2.5)
    assert budget.reserve() == pytest.approx(2.5)


def test_429s_halve_the_worker_cap_and_successes_raise_it_again() -> None:
    budget = RequestBudget(RateLimitOptions(max_workers=5, recovery_successes=3))
    assert budget.worker_cap(5) == 5
    budget.rate_limited(None)
    assert budget.worker_cap(5) == 2
    budget.rate_limited(None)
    budget.rate_limited(None)
    assert budget.worker_cap(5) == 1, "never below one"
    for _ in range(3):
        budget.succeeded()
    assert budget.worker_cap(5) == 2
    for _ in range(9):
        budget.succeeded()
    assert budget.worker_cap(5) == 5
    assert budget.worker_cap(3) == 3, "a pool never gets more than it asked for"
    stats = budget.snapshot()
    assert (stats.rate_limited, stats.worker_cap) == (3, 5)
