"""The cluster's request budget, without Ray: RPM, TPM and RPD windows, quota denials, AIMD pressure."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from pipeline.budget_models import QuotaDenial, Settlement, SlotGrant, next_quota_reset
from pipeline.quota_memory import QuotaNotice
from pipeline.ratelimit import RateLimitOptions, RequestBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def waits(budget: RequestBudget, count: int, tokens: int = 0) -> list[float]:
    return [budget.reserve(tokens).wait_s for _ in range(count)]


def test_a_burst_up_to_the_limit_goes_at_once_then_waits_for_the_window() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=3, window_s=60, margin_s=0), clock)
    assert waits(budget, 3) == [0, 0, 0]
    assert budget.reserve().wait_s == pytest.approx(60)
    clock.now += 10
    assert budget.reserve().wait_s == pytest.approx(50)


def test_no_window_ever_holds_more_than_the_limit() -> None:
    clock = Clock()
    rpm, window = 7, 5.0
    budget = RequestBudget(RateLimitOptions(rpm=rpm, window_s=window, margin_s=0), clock)
    rng = random.Random(4)
    sent = []
    for _ in range(200):
        clock.now += rng.expovariate(3.0)  # callers arrive faster than the limit allows
        sent.append(clock.now + budget.reserve().wait_s)
    sent.sort()
    busiest = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
    assert busiest == rpm
    # and the limit is used, not wasted: 200 requests take about 200 / rpm windows
    assert (sent[-1] - sent[0]) < (200 / rpm) * window * 1.05


def test_the_margin_spaces_windows_for_request_travel_time() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=2, window_s=10, margin_s=0.5), clock)
    assert waits(budget, 4) == [0, 0, pytest.approx(10.5), pytest.approx(10.5)]


def test_the_token_window_holds_requests_whose_tokens_do_not_fit() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=100, tpm=1000, window_s=60, margin_s=0), clock)
    assert waits(budget, 2, tokens=400) == [0, 0]
    assert budget.reserve(400).wait_s == pytest.approx(60), "800 + 400 > 1000: wait for the first to leave"
    # a request larger than the whole limit is let through alone rather than never
    assert budget.reserve(5000).wait_s >= 60


def test_no_token_window_ever_holds_more_than_the_tpm() -> None:
    clock = Clock()
    tpm, window = 3000, 10.0
    budget = RequestBudget(RateLimitOptions(rpm=1000, tpm=tpm, window_s=window, margin_s=0), clock)
    rng = random.Random(9)
    sent: list[tuple[float, int]] = []
    for _ in range(150):
        clock.now += rng.expovariate(5.0)
        tokens = rng.randint(200, 900)
        sent.append((clock.now + budget.reserve(tokens).wait_s, tokens))
    heaviest = max(sum(n for t, n in sent if start <= t < start + window) for start, _ in sent)
    assert heaviest <= tpm


def test_real_token_counts_correct_later_estimates() -> None:
    budget = RequestBudget(RateLimitOptions(rpm=100, tpm=10_000), Clock())
    budget.reserve(1000)
    for _ in range(10):  # the API bills half of what was estimated
        budget.settle(Settlement(estimated_tokens=1000, prompt_tokens=500))
    assert budget.snapshot().token_scale == pytest.approx(0.5, abs=0.02)
    before = budget.snapshot().tokens_reserved
    budget.reserve(1000)
    assert budget.snapshot().tokens_reserved - before == pytest.approx(500, abs=20)


def test_a_429_holds_new_slots_for_retry_after() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=100), clock)
    budget.rate_limited(QuotaNotice(retry_after=2.5))
    assert budget.reserve().wait_s == pytest.approx(2.5)


def test_429s_halve_the_busy_workers_and_successes_give_them_back() -> None:
    budget = RequestBudget(RateLimitOptions(recovery_successes=3))
    assert budget.reserve().worker_cap(5) == 5
    budget.rate_limited(None)
    assert budget.reserve().worker_cap(5) == 2
    budget.rate_limited(None)
    budget.rate_limited(None)
    assert budget.reserve().worker_cap(5) == 1, "never below one"
    budget.reserve(settlements=[Settlement()] * 3)
    assert budget.reserve().worker_cap(5) == 1, "one step back: 5 >> 2"
    budget.reserve(settlements=[Settlement()] * 6)
    grant = budget.reserve()
    assert grant.worker_cap(5) == 5
    assert grant.worker_cap(3) == 3, "a pool never gets more than it asked for"
    assert budget.snapshot().rate_limited == 3


def test_failures_do_not_count_as_successes() -> None:
    budget = RequestBudget(RateLimitOptions(recovery_successes=2))
    budget.rate_limited(None)
    budget.reserve(settlements=[Settlement(ok=False)] * 5)
    assert budget.reserve().pressure == 1


def test_our_own_daily_count_denies_at_once_with_the_reset_time() -> None:
    noon = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)  # noon in California
    budget = RequestBudget(RateLimitOptions(model="m", rpd=2), Clock(), lambda: noon)
    assert [budget.reserve().denied for _ in range(2)] == [None, None]
    denied = budget.reserve().denied
    assert denied is not None and denied.quota == "requests per day"
    assert denied.resets_at == dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
    assert "2 requests per day" in denied.message


def test_an_exhausted_quota_denies_until_it_resets() -> None:
    now = [dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)]
    budget = RequestBudget(RateLimitOptions(), Clock(), lambda: now[0])
    resets = now[0] + dt.timedelta(hours=1)
    budget.exhausted(QuotaDenial(quota="GenerateRequestsPerDay", message="used up", resets_at=resets))
    assert budget.reserve().denied is not None
    now[0] = resets
    assert budget.reserve().denied is None


def test_a_restarted_budget_resumes_from_its_memory_file(tmp_path: Path) -> None:
    clock = Clock()
    options = RateLimitOptions(rpm=3, window_s=60, margin_s=0, state_path=str(tmp_path / "budget.json"))
    before = RequestBudget(options, clock)
    assert waits(before, 3) == [0, 0, 0]
    before.flush()
    clock.now += 20
    after = RequestBudget(options, clock)
    after.resume_after_restart()
    assert after.reserve().wait_s == pytest.approx(40), "the three slots of 20 s ago still fill the window"


def test_a_restarted_budget_without_memory_waits_one_spacing_not_a_window() -> None:
    for rpm, spacing in ((10, 6.0), (1000, 0.06)):
        budget = RequestBudget(RateLimitOptions(rpm=rpm, window_s=60, margin_s=0), Clock())
        budget.resume_after_restart()
        assert budget.reserve().wait_s == pytest.approx(spacing)


def test_unmetered_until_a_429_names_the_limit_then_held_to_it() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(window_s=60, margin_s=0, learn=True), clock)
    assert waits(budget, 12) == [0] * 12, "nothing assumed: a paid key is not held to the free tier"
    quota = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    budget.rate_limited(QuotaNotice(quota=quota, limit=10, retry_after=30))
    assert budget.snapshot().rpm == 10 and "as the 429 stated" in budget.snapshot().learned[0]
    assert budget.reserve().wait_s == pytest.approx(60.05), "ten of the twelve fill the window (+ margin)"


def test_a_limit_set_by_the_user_is_never_learned_over() -> None:
    budget = RequestBudget(RateLimitOptions(rpm=50, learn=True), Clock())
    budget.rate_limited(QuotaNotice(quota="GenerateRequestsPerMinutePerProjectPerModel", limit=10))
    assert budget.snapshot().rpm == 50


def test_a_tier_budget_learns_nothing() -> None:
    budget = RequestBudget(RateLimitOptions(tpm=None, learn=False), Clock())
    budget.rate_limited(QuotaNotice(quota="GenerateRequestsPerMinutePerProjectPerModel", limit=10))
    assert budget.snapshot().rpm is None and budget.snapshot().learned == []


def test_what_was_learned_is_kept_for_the_next_run(tmp_path: Path) -> None:
    clock = Clock()
    options = RateLimitOptions(learn=True, window_s=60, margin_s=0, state_path=str(tmp_path / "b.json"))
    first = RequestBudget(options, clock)
    first.reserve()
    first.rate_limited(QuotaNotice(quota="GenerateContentInputTokensPerModelPerMinute", limit=250_000))
    clock.now += 3600  # an hour later: the window is long gone, the limit is not
    second = RequestBudget(options, clock)
    assert second.snapshot().tpm == 250_000 and second.snapshot().rpm is None
    assert second.reserve().wait_s == 0


def test_the_quota_day_ends_at_midnight_pacific_in_winter_and_summer() -> None:
    assert next_quota_reset(dt.datetime(2026, 12, 1, 7, 59, tzinfo=dt.UTC)) == dt.datetime(
        2026, 12, 1, 8, 0, tzinfo=dt.UTC
    )
    assert next_quota_reset(dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.UTC)) == dt.datetime(
        2026, 7, 2, 7, 0, tzinfo=dt.UTC
    )


def test_budgets_are_named_by_what_google_meters_never_by_workers() -> None:
    flash = RateLimitOptions(model="gemini-2.5-flash", rpm=10, tpm=250_000, rpd=250)
    assert (
        flash.actor_name()
        == RateLimitOptions(model="gemini-2.5-flash", rpm=10, tpm=250_000, rpd=250).actor_name()
    )
    assert (
        flash.actor_name()
        != RateLimitOptions(model="gemini-2.5-pro", rpm=10, tpm=250_000, rpd=250).actor_name()
    )
    assert flash.actor_name() != flash.model_copy(update={"rpm": 11}).actor_name()
    assert "worker" not in flash.actor_name() and "w-" not in flash.actor_name()


def test_a_grant_is_a_wire_model() -> None:
    grant = SlotGrant(wait_s=1.5, pressure=1)
    assert SlotGrant.model_validate(grant.to_wire()) == grant


def test_a_429_widens_the_spacing_between_windows_up_to_a_tenth_of_the_window() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=1, window_s=10, margin_s=0.2), clock)
    budget.rate_limited(None)
    assert budget.snapshot().margin_s == pytest.approx(0.3)
    for _ in range(10):
        budget.rate_limited(None)
    assert budget.snapshot().margin_s == pytest.approx(1.0)
    budget.reserve()
    assert budget.reserve().wait_s == pytest.approx(11.0)


def test_a_run_of_successes_narrows_the_spacing_back_to_its_setting() -> None:
    budget = RequestBudget(RateLimitOptions(rpm=1, window_s=10, margin_s=0.2, recovery_successes=2))
    for _ in range(3):
        budget.rate_limited(None)
    widened = budget.snapshot().margin_s
    budget.reserve(settlements=[Settlement()] * 2)
    assert budget.snapshot().margin_s == pytest.approx(widened / 1.5)
    budget.reserve(settlements=[Settlement()] * 40)
    assert budget.snapshot().margin_s == pytest.approx(0.2), "never narrower than configured"


def test_a_request_that_left_late_counts_from_when_it_left() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=2, window_s=10, margin_s=0), clock)
    first, second = budget.reserve(), budget.reserve()
    assert (first.slot_at, second.slot_at) == (1000.0, 1000.0)
    clock.now = 1004.0  # the second one only left at 1003 (a loaded driver, a queued actor)
    budget.settle(Settlement(slot_at=second.slot_at, sent_at=1003.0))
    assert budget.reserve().slot_at == pytest.approx(1010.0), "the first still leaves the window at 1010"
    assert budget.reserve().slot_at == pytest.approx(1013.0), "the second leaves it at 1013, not 1010"


def test_a_budget_whose_slots_stall_longer_than_the_window_says_so() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=1, window_s=10, margin_s=0), clock)
    budget.reserve()
    assert budget.stalled() is None, "nothing waits"
    budget.rate_limited(QuotaNotice(retry_after=120))  # say, a server that keeps asking for more
    budget.reserve()
    clock.now += 5
    assert budget.stalled() is None, "within the window: an ordinary wait"
    clock.now += 10
    problem = budget.stalled()
    assert problem is not None and "15 s while 1 wait" in problem


def test_bulk_leaves_the_interactive_share_free_while_interactive_work_asks() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=10, window_s=60, margin_s=0, interactive_share=0.2), clock)
    assert budget.reserve(priority="interactive").wait_s == 0
    bulk = [budget.reserve(priority="bulk") for _ in range(8)]
    assert [grant.booked for grant in bulk] == [True] * 7 + [False], "two of ten stay free"
    assert bulk[-1].wait_s == pytest.approx(60), "told when to ask again"
    assert budget.reserve(priority="interactive").wait_s == 0, "an interactive request goes at once"
    assert budget.reserve(priority="interactive").wait_s == 0
    assert budget.reserve(priority="interactive").wait_s == pytest.approx(60), "the window is full now"


def test_bulk_alone_takes_the_whole_window_and_never_holds_a_future_slot() -> None:
    clock = Clock()
    budget = RequestBudget(RateLimitOptions(rpm=10, window_s=60, margin_s=0), clock)
    bulk = [budget.reserve(priority="bulk") for _ in range(12)]
    assert [grant.booked for grant in bulk] == [True] * 10 + [False] * 2
    assert len(budget.granted_slots()) == 10, "the unbooked asks hold nothing"
    budget.reserve(priority="interactive")
    clock.now += 11 * 60  # the window is empty again; interactive work asked 11 minutes ago
    assert all(budget.reserve(priority="bulk").booked for _ in range(10)), "no share held for it now"
