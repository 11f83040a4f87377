"""The one send path to Gemini: the real SDK over real HTTP to the fake server, a real Ray.

Every attempt is a dispatch with a slot from the budget; an image answered 429 waits its own
``retryDelay``; waiting is never charged to an image's deadline; a quota nobody configured is
learned from the 429s and remembered. What is checked comes from the fake server's own log of
each request (arrival time, status, the image it carried), not from the client's account.

The quotas are scaled down for speed (10 per 4 s window, as for the free tier's 10 per minute).
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.budget_actor import get_rate_limiter
from pipeline.budget_models import PriorityStats
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import run_parse
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions
from pipeline.schema import BatchProgress, ParseResponse
from pipeline.settings import Settings
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, FaultRates, RequestRecord
from pipeline.testing.request_log import by_image, early_retries, quota_refusals
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

KEY = "test-key-send-path-0123456789"
_NO_BULK = PriorityStats()
WINDOW_S = 4.0


@pytest.fixture
def fake(module_server: FakeGeminiServer) -> FakeGeminiServer:
    """The module's fake Gemini server (conftest); each test configures it."""
    return module_server


def gemini(fake: FakeGeminiServer, model: str) -> GeminiOptions:
    return GeminiOptions(
        api_key=KEY,
        base_url=fake.base_url,
        model=model,
        backoff_base_s=0.05,
        backoff_cap_s=0.5,
    )


def unconfigured(backend: GeminiOptions, data_dir: Path) -> RateLimitOptions:
    """The budget a user gets with no tier and no limits set, as every entry point plans it.

    The 1 s spacing between windows covers a request's way from its slot to the server on a
    loaded machine (the default, 2% of a real minute, is sized for the real window; 0.5 s let a
    request reach the server in the next window now and then at load 20)."""
    settings = Settings(gemini_rate_window_s=WINDOW_S, data_dir=data_dir)
    limits = backend.rate_limit(settings)
    assert limits.learn and limits.rpm is None, "nothing assumed when nothing is configured"
    return limits.model_copy(update={"margin_s": 1.0})


def images(count: int, tag: str) -> list[ImagePayload]:
    return [read_bytes(make_scripted_png(venue=f"{tag} {n}"), n, max_bytes=10**6) for n in range(count)]


def parse(
    fake: FakeGeminiServer,
    backend: GeminiOptions,
    batch: list[ImagePayload],
    limits: RateLimitOptions,
    *,
    workers: int = 5,
    timeout_s: float = 10,
    seen: list[BatchProgress] | None = None,
) -> ParseResponse:
    return run_parse(
        batch,
        backend,
        pool_options=PoolOptions(workers=workers, image_timeout_s=timeout_s),
        worker_options=WorkerOptions(num_cpus=0.1),
        rate_limit=limits,
        on_progress=seen.append if seen is not None else None,
    )


def assert_counts_match_the_server(response: ParseResponse, records: list[RequestRecord]) -> None:
    """Each image's ``attempts`` is the requests for it that reached the server; retries add up."""
    sent = by_image(records)
    for result in response.results:
        assert result.attempts == len(sent[result.sha256]), result.source
    assert response.stats.retries == len(records) - len(response.results)


def test_an_unconfigured_free_tier_loses_nothing_learns_once_and_remembers(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    faults = FaultRates(http_503=0.1, http_429=0.1)
    fake.configure(
        FakeGeminiOptions(
            extract="echo",
            rpm=10,
            rate_window_s=WINDOW_S,
            latency_median_ms=50,
            faults=faults,
            retry_delay_s=2,
        )
    )
    fake.clear_requests()
    backend = gemini(fake, "free-unconfigured")
    limits = unconfigured(backend, tmp_path)
    first = parse(fake, backend, images(20, "first"), limits, timeout_s=3)
    records = fake.requests
    assert first.stats.failed_images == 0, [r.error for r in first.results if r.error]
    assert early_retries(records) == [], "no image went again before its 429's retryDelay"
    assert_counts_match_the_server(first, records)
    learning = quota_refusals(records)
    assert learning <= 5 + 1, f"{learning} 429s from the quota: at most one per worker, plus one"
    print(f"\nfirst run: {len(records)} requests, {learning} 429s from the quota while learning")

    # A restarted budget (a new run in a new Ray starts the same way) reads back what it learned.
    import ray

    limiter = get_rate_limiter(limits)
    ray.kill(limiter, no_restart=False)
    fake.clear_requests()
    second = parse(fake, backend, images(12, "second"), limits, timeout_s=3)
    stats = ray.get(get_rate_limiter(limits).snapshot.remote())
    assert stats.rpm == 10 and "as the 429 stated" in stats.learned[0]
    assert second.stats.failed_images == 0
    assert quota_refusals(fake.requests) == 0, "the second run knew the limit"
    assert early_retries(fake.requests) == []
    assert_counts_match_the_server(second, fake.requests)
    assert any(path.name.startswith("free-unconfigured--") for path in (tmp_path / "quotas").iterdir())


def test_an_unconfigured_paid_key_is_not_held_to_the_free_tier(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    fake.configure(
        FakeGeminiOptions(
            extract="echo", rpm=1000, rate_window_s=60, quota_tier="paid", latency_median_ms=100
        )
    )
    fake.clear_requests()
    backend = gemini(fake, "paid-unconfigured")
    limits = unconfigured(backend, tmp_path)
    seen: list[BatchProgress] = []
    response = parse(fake, backend, images(30, "paid"), limits, seen=seen)
    assert response.stats.failed_images == 0
    assert [r.status for r in fake.requests] == [200] * 30
    import ray

    stats = ray.get(get_rate_limiter(limits).snapshot.remote())
    assert stats.waited_s < 0.5 and stats.rpm is None, "no quota wait at all"
    assert not any(progress.waiting_for_quota for progress in seen)
    print(f"\n30 images at 100 ms on 5 workers: {response.stats.total_processing_time / 1000:.2f} s wall")


def test_a_503_while_the_window_is_full_waits_without_a_deadline(fake: FakeGeminiServer) -> None:
    window = 5.0
    fake.configure(FakeGeminiOptions(extract="echo", script=("ok", "http_503")))
    fake.clear_requests()
    backend = gemini(fake, "full-window")
    limits = RateLimitOptions(model="full-window", key_fingerprint="t", rpm=2, window_s=window, margin_s=0.2)
    # a 2 s deadline: the retry's slot is a whole window away, far past it
    response = parse(fake, backend, images(2, "full"), limits, workers=2, timeout_s=2)
    assert response.stats.failed_images == 0, [r.error for r in response.results if r.error]
    statuses = sorted(r.status for r in fake.requests)
    assert statuses == [200, 200, 503]
    retry = max(fake.requests, key=lambda r: r.time)
    first = min(fake.requests, key=lambda r: r.time)
    assert retry.time - first.time >= window, "the retry waited for a slot of the next window"
    assert sorted(r.attempts for r in response.results) == [1, 2]
    assert response.stats.retries == 1


def test_a_budget_killed_mid_run_resumes_without_a_stall(fake: FakeGeminiServer, tmp_path: Path) -> None:
    """On a paid tier's window (60 s), a restarted budget used to assume a full window: a minute
    with no request at all. It now resumes from its memory file."""
    import ray

    fake.configure(FakeGeminiOptions(extract="echo", latency_median_ms=300))
    fake.clear_requests()
    backend = gemini(fake, "killed-budget")
    limits = RateLimitOptions(
        model="killed-budget", key_fingerprint="t", rpm=1000, window_s=60, state_path=str(tmp_path / "b.json")
    )
    responses: list[ParseResponse] = []
    run = threading.Thread(target=lambda: responses.append(parse(fake, backend, images(20, "kill"), limits)))
    run.start()
    deadline = time.monotonic() + 120
    while len(fake.requests) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    ray.kill(get_rate_limiter(limits), no_restart=False)
    run.join(timeout=300)
    assert responses and responses[0].stats.failed_images == 0
    arrivals = sorted(r.time for r in fake.requests)
    longest = max(b - a for a, b in itertools.pairwise(arrivals))
    print(f"\nbudget killed after 5 requests: longest gap between requests {longest:.2f} s")
    assert longest < limits.window_s, "no window-long stall after the restart"


def test_a_used_up_day_ends_the_retries_that_wait_too(fake: FakeGeminiServer) -> None:
    """One image waits out a minute-429's 5 s when the other meets the per-day quota: the
    waiting one is not sent again, it ends at once with the day's message."""
    fake.configure(FakeGeminiOptions(extract="echo", script=("http_429", "http_429_day"), retry_delay_s=5))
    fake.clear_requests()
    backend = gemini(fake, "day-ends-retries")
    limits = RateLimitOptions(model="day-ends-retries", key_fingerprint="t", rpm=6000)
    response = parse(fake, backend, images(2, "day"), limits, workers=2)
    assert len(fake.requests) == 2, "the waiting retry was never sent"
    for result in response.results:
        assert result.error is not None and result.error.code == "rate_limited"
        assert "PerDay" in (result.error.quota or "") and "resets at" in result.error.message


def test_an_interactive_request_goes_before_a_bulk_run_that_fills_the_window(fake: FakeGeminiServer) -> None:
    """Interactive work was seen lately (a server's request); a bulk run then holds the window as
    full as it may; another interactive request takes the share bulk leaves free: its slots
    are granted at once, while bulk is told to come back."""
    fake.configure(FakeGeminiOptions(extract="echo", latency_median_ms=50))
    fake.clear_requests()
    backend = gemini(fake, "priority")
    limits = RateLimitOptions(model="priority", key_fingerprint="t", rpm=10, window_s=20, margin_s=0.2)
    import ray

    budget = get_rate_limiter(limits)
    assert parse(fake, backend, images(1, "earlier"), limits, workers=1).stats.failed_images == 0
    bulk: list[ParseResponse] = []
    run = threading.Thread(
        target=lambda: bulk.append(
            run_parse(
                images(14, "bulk"),
                backend,
                pool_options=PoolOptions(workers=3, image_timeout_s=10),
                worker_options=WorkerOptions(num_cpus=0.1),
                rate_limit=limits,
                priority="bulk",
            )
        )
    )
    run.start()
    deadline = time.monotonic() + 120
    while ray.get(budget.snapshot.remote()).by_priority.get("bulk", _NO_BULK).deferred == 0:
        assert time.monotonic() < deadline, "bulk never filled the window"
        time.sleep(0.05)
    interactive = parse(fake, backend, images(2, "interactive"), limits, workers=2)
    stats = ray.get(budget.snapshot.remote()).by_priority
    assert interactive.stats.failed_images == 0
    assert stats["interactive"].granted == 3 and stats["interactive"].waited_s < 1.0, stats
    run.join(timeout=300)
    assert bulk and bulk[0].stats.failed_images == 0, "bulk finishes, nothing lost"
    assert ray.get(budget.snapshot.remote()).by_priority["bulk"].granted == 14
