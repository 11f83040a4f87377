"""One Gemini budget for everything: the real SDK over real HTTP to the fake server, a real Ray.

The free tier's 10 requests per minute are scaled down to 10 per few seconds
for test speed; the shape (a burst, then a wait for the window) is the same.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.batch import BatchOptions, run_batch
from pipeline.budget_actor import get_rate_limiter
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import run_parse
from pipeline.plan import JobPlan, plan_job
from pipeline.progress import get_progress_actor
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions
from pipeline.schema import BatchProgress, ExtractContext, ParseResponse
from pipeline.settings import Settings
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, RequestRecord
from pipeline.testing.scripted import ScriptedOptions, make_scripted_png
from pipeline.worker import WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

KEY = "test-key-budget-0123456789"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(FakeGeminiOptions(extract="echo")) as server:
        yield server


def gemini(fake: FakeGeminiServer, model: str) -> GeminiOptions:
    return GeminiOptions(
        api_key=KEY,  # type: ignore[arg-type]
        base_url=fake.base_url,
        model=model,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
        image_deadline_s=20,
    )


def images(count: int, tag: str) -> list[ImagePayload]:
    return [read_bytes(make_scripted_png(venue=f"{tag} {n}"), n, max_bytes=10**6) for n in range(count)]


def parse(
    fake: FakeGeminiServer, model: str, count: int, workers: int, limits: RateLimitOptions, **kwargs: object
) -> ParseResponse:
    return run_parse(
        images(count, model),
        gemini(fake, model),
        pool_options=PoolOptions(workers=workers, image_timeout_s=kwargs.pop("timeout_s", 30)),  # type: ignore[arg-type]
        worker_options=WorkerOptions(num_cpus=0.1),
        rate_limit=limits,
        **kwargs,  # type: ignore[arg-type]
    )


def busiest_window(moments: list[float], window: float) -> int:
    moments = sorted(moments)
    return max((sum(1 for t in moments if start <= t < start + window) for start in moments), default=0)


def audit_budget(limits: RateLimitOptions, records: list[RequestRecord]) -> None:
    """What holds on any machine, however loaded: every request at the server had a slot of the
    budget, none arrived before its slot, and no window of granted slots exceeds the limit.

    Whether the server saw a 429 depends on how long a request took from its slot to the wire
    (the 0.5 s margin covers a quiet machine, not a saturated one): reported, not asserted;
    ``python -m bench --only-rate-limit`` measures it.
    """
    import ray

    slots = sorted(ray.get(get_rate_limiter(limits).granted_slots.remote()))
    arrivals = sorted(record.time for record in records)
    assert len(slots) == len(arrivals), "every request at the server, and only those, had a slot"
    assert all(arrived >= slot for arrived, slot in zip(arrivals, slots, strict=True)), "none left early"
    assert busiest_window(slots, limits.window_s) <= limits.rpm
    statuses = [record.status for record in records]
    print(
        f"\n{len(records)} requests, {statuses.count(429)} x 429 at the server; busiest window at the "
        f"server {busiest_window(arrivals, limits.window_s)} of {limits.rpm}"
    )


def test_ten_per_minute_scaled_loses_nothing_and_shows_the_wait(fake: FakeGeminiServer) -> None:
    rpm, window = 10, 5.0
    fake.configure(FakeGeminiOptions(extract="echo", rpm=rpm, rate_window_s=window, latency_median_ms=50))
    fake.clear_requests()
    # 0.5 s between windows: enough for a request's way from slot to server on a loaded machine
    limits = RateLimitOptions(model="free-tier-scaled", rpm=rpm, window_s=window, margin_s=0.5)
    seen: list[BatchProgress] = []
    started = time.monotonic()
    # a 4 s image deadline: had the wait for quota counted against it, most images would time out
    response = parse(fake, "free-tier-scaled", 24, 3, limits, on_progress=seen.append, timeout_s=4)
    wall = time.monotonic() - started
    assert response.stats.failed_images == 0, [r.error for r in response.results if r.error]
    audit_budget(limits, fake.requests)
    assert wall >= 2 * window, "24 requests at 10 per window need two full windows"
    waiting = [s for s in seen if s.waiting_for_quota]
    assert waiting and all(s.next_slot_at is not None for s in waiting), "progress showed the wait for quota"
    assert not seen[-1].waiting_for_quota


def test_two_drivers_with_other_worker_counts_share_one_budget(fake: FakeGeminiServer) -> None:
    """A CLI job (plan_job) and a server fleet (the backend's own rate_limit) meet on one budget."""
    rpm, window = 8, 4.0
    fake.configure(FakeGeminiOptions(extract="echo", rpm=rpm, rate_window_s=window, latency_median_ms=30))
    fake.clear_requests()
    settings = Settings(gemini_rpm=rpm, gemini_rate_window_s=window)
    backend = gemini(fake, "shared-budget")
    cli_plan = plan_job("gemini", workers=3, timeout_s=20, settings=settings, backend=backend)
    assert cli_plan.rate_limit == backend.rate_limit(settings), "every entry point plans the same budget"
    server_limits = cli_plan.rate_limit.model_copy(update={"margin_s": 0.5})  # as in the test above
    responses: list[ParseResponse] = []

    def run(workers: int, tag: str) -> None:
        assert server_limits is not None
        responses.append(
            run_parse(
                images(8, tag),
                backend,
                pool_options=PoolOptions(workers=workers, image_timeout_s=20),
                worker_options=WorkerOptions(num_cpus=0.1),
                rate_limit=server_limits,
            )
        )

    threads = [threading.Thread(target=run, args=(3, "cli")), threading.Thread(target=run, args=(5, "serve"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(responses) == 2 and all(r.stats.failed_images == 0 for r in responses)
    audit_budget(server_limits, fake.requests)  # together they were never granted more than the limit


def test_a_per_day_429_ends_the_job_at_once_with_the_reset_time(fake: FakeGeminiServer) -> None:
    fake.configure(FakeGeminiOptions(extract="echo", rpd=3, latency_median_ms=20))
    fake.clear_requests()
    limits = RateLimitOptions(model="per-day", rpm=6000)
    response = parse(fake, "per-day", 12, 2, limits)
    statuses = [r.status for r in response.results]
    assert statuses.count("ok") == 3
    failed = [r for r in response.results if not r.success]
    assert len(failed) == 9 and all(r.error is not None and r.error.code == "rate_limited" for r in failed)
    for result in failed:
        assert result.error is not None
        assert "PerDay" in (result.error.quota or "") and "resets at" in result.error.message
    assert [r.status for r in fake.requests].count(429) <= 2, "no retries: one 429 per worker at most"
    assert all(r.attempts <= 1 for r in failed), "the job ended at once, not after retries"
    # the budget stays shut for everyone until the quota resets
    again = parse(fake, "per-day", 2, 1, limits)
    assert [r.error.code for r in again.results if r.error] == ["rate_limited"] * 2
    assert [r.status for r in fake.requests].count(429) <= 2, "a later job did not even ask"


def test_a_quota_of_zero_says_the_model_has_no_free_tier(fake: FakeGeminiServer) -> None:
    fake.configure(FakeGeminiOptions(extract="echo", faults={"http_429_zero": 1.0}))  # type: ignore[arg-type]
    fake.clear_requests()
    response = parse(fake, "no-free-tier", 5, 2, RateLimitOptions(model="no-free-tier", rpm=6000))
    assert all(r.error is not None and r.error.code == "rate_limited" for r in response.results)
    assert all("no free tier" in (r.error.message if r.error else "") for r in response.results)
    assert len(fake.requests) <= 2


def test_hints_and_generation_config_change_the_cache_identity() -> None:
    base = GeminiOptions()
    plain = base.cache_identity(None)
    assert plain == GeminiOptions().cache_identity(None), "the same options and hints, the same identity"
    assert base.cache_identity(ExtractContext(vendor="A")) != plain
    assert base.cache_identity(ExtractContext(vendor="A")) != base.cache_identity(ExtractContext(vendor="B"))
    assert base.cache_identity(ExtractContext(url="https://x.example")) != plain
    dated = ExtractContext(reference_date=dt.date(2026, 12, 1))
    assert base.cache_identity(dated) not in (plain, base.cache_identity(ExtractContext()))
    assert GeminiOptions(temperature=0.7).cache_identity(None) != plain
    assert GeminiOptions(thinking_budget=0).cache_identity(None) != plain
    assert GeminiOptions(model="gemini-2.5-pro").cache_identity(None) != plain
    assert ScriptedOptions().cache_identity(None) is None, "a free backend is never cached"


def _write_images(folder: Path, count: int, tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"{tag}-{n}.png").write_bytes(make_scripted_png(venue=f"{tag} {n}"))
    return folder


def test_batch_draws_on_the_budget_and_hits_the_cache_the_second_time(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    fake.configure(FakeGeminiOptions(extract="echo", latency_median_ms=10))
    fake.clear_requests()
    inputs = _write_images(tmp_path / "in", 6, "batch")
    limits = RateLimitOptions(model="batch-budget", rpm=6000)
    plan = JobPlan(
        gemini(fake, "batch-budget"),
        PoolOptions(workers=2, image_timeout_s=20, large_pool=True),
        WorkerOptions(num_cpus=0.1),
        limits,
    )
    cache = str(tmp_path / "cache.sqlite3")
    first = run_batch(BatchOptions(input=str(inputs), output=str(tmp_path / "one"), cache_path=cache), plan)
    assert first.successful_images == 6 and first.cached_images == 0, first.failures_by_code
    assert first.usage.prompt_tokens > 0 and first.estimated_cost > 0
    assert len(fake.requests) == 6
    import ray

    stats = ray.get(get_rate_limiter(limits).snapshot.remote())
    assert stats.granted == 6, "every batch request took a slot from the shared budget"
    assert set(stats.by_priority) == {"bulk"}, "a batch is bulk work: interactive requests go first"
    # the same images under new names, into a new output: answered by content hash, no request
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for path in inputs.iterdir():
        (renamed / f"copy-{path.name}").write_bytes(path.read_bytes())
    second = run_batch(BatchOptions(input=str(renamed), output=str(tmp_path / "two"), cache_path=cache), plan)
    assert second.successful_images == 6 and second.cached_images == 6
    assert len(fake.requests) == 6, "the second run sent nothing"


def _kill_once(
    condition: Callable[[BatchProgress], bool], victims: Callable[[], list[object]]
) -> Callable[[BatchProgress], None]:
    killed = threading.Event()

    def on_progress(snapshot: BatchProgress) -> None:
        if not killed.is_set() and condition(snapshot):
            import ray

            killed.set()
            for actor in victims():
                ray.kill(actor, no_restart=False)

    return on_progress


def test_killing_the_progress_and_limiter_actors_mid_job_loses_nothing(fake: FakeGeminiServer) -> None:
    import ray

    fake.configure(FakeGeminiOptions(extract="echo", latency_median_ms=100))
    fake.clear_requests()
    limits = RateLimitOptions(model="kill-helpers", rpm=6000)
    seen: list[BatchProgress] = []
    killer = _kill_once(
        lambda s: s.processed_images >= 5, lambda: [get_progress_actor(), get_rate_limiter(limits)]
    )

    def on_progress(snapshot: BatchProgress) -> None:
        seen.append(snapshot)
        killer(snapshot)

    response = parse(fake, "kill-helpers", 30, 3, limits, on_progress=on_progress)
    assert len(response.results) == 30
    assert response.stats.failed_images == 0, [r.error for r in response.results if r.error]
    assert seen[-1].processed_images == 30
    # both come back by themselves
    assert ray.get(get_progress_actor().ping.remote(), timeout=60)
    assert ray.get(get_rate_limiter(limits).ping.remote(), timeout=60)


@pytest.mark.parametrize("use_ray", [True, False])
def test_an_unexpected_exception_is_internal_error_with_and_without_ray(use_ray: bool) -> None:
    items = [
        read_bytes(make_scripted_png("bug"), 0, max_bytes=10**6),
        read_bytes(make_scripted_png(), 1, max_bytes=10**6),
    ]
    response = run_parse(
        items,
        ScriptedOptions(),
        pool_options=PoolOptions(workers=2),
        worker_options=WorkerOptions(num_cpus=0.1),
        use_ray=use_ray,
    )
    first, second = response.results
    assert first.error is not None and first.error.code == "internal_error"
    assert "ZeroDivisionError" in first.error.message
    assert second.success


def test_many_processes_may_open_a_new_cache_at_once(tmp_path: Path) -> None:
    """Batch workers open the same cache file together; none may fail over its schema."""
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "cache.sqlite3"
    with ProcessPoolExecutor(4) as pool:
        sizes = list(pool.map(_open_cache, [path] * 8))
    assert sizes == [0] * 8


def _open_cache(path: Path) -> int:
    from pipeline.cache import ResultCache

    return len(ResultCache(path))
