"""Jobs on a long-lived fleet (pipeline/jobs.py) and their records (pipeline/job_store.py)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from pipeline.backends.base import ScriptedOptions
from pipeline.errors import JobCancelled
from pipeline.job_store import (
    ORPHAN_ERROR,
    JobRegistry,
    JobStore,
    RunDefaults,
    load_run_defaults,
    new_job_id,
    save_run_defaults,
)
from pipeline.jobs import JobRunner, RunRequest
from pipeline.parse import intake, run_on_fleet
from pipeline.pool import start_fleet
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import BatchProgress, ParsedSchedule, ParseResponse, ParseStats
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

if TYPE_CHECKING:
    from pipeline.testing.fake_gemini import FakeGeminiServer


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def a_response() -> ParseResponse:
    stats = ParseStats(
        total_images=0,
        successful_images=0,
        failed_images=0,
        max_concurrent_workers=1,
        total_processing_time=0.0,
        average_processing_time=0.0,
        speedup=0.0,
    )
    return ParseResponse(success=False, data=ParsedSchedule(), results=[], stats=stats)


# --- the store, without Ray ---------------------------------------------------------------------


def test_a_finished_job_is_read_back_by_a_new_store(tmp_path: Path) -> None:
    store = JobStore(tmp_path, ttl_s=60)
    record = store.create(3)
    assert store.get(record.job_id) is not None
    store.update_progress(record.job_id, BatchProgress(total_images=3, processed_images=2))
    store.finish(record.job_id, "done", result=a_response())
    reopened = JobStore(tmp_path, ttl_s=60).get(record.job_id)
    assert reopened is not None
    assert reopened.status == "done" and reopened.result == a_response()
    assert reopened.progress.status == "done" and reopened.progress.processed_images == 2


def test_a_job_left_running_by_a_stopped_server_is_marked_failed(tmp_path: Path) -> None:
    record = JobStore(tmp_path, ttl_s=60).create(2)
    reopened = JobStore(tmp_path, ttl_s=60).get(record.job_id)
    assert reopened is not None and reopened.status == "failed"
    assert reopened.error is not None and "stopped" in reopened.error


def test_records_expire_after_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    store = JobStore(tmp_path, ttl_s=60, clock=clock)
    record = store.create(1)
    store.finish(record.job_id, "done", result=a_response())
    clock.now += dt.timedelta(seconds=59)
    assert store.get(record.job_id) is not None
    clock.now += dt.timedelta(seconds=2)
    assert store.get(record.job_id) is None
    assert not list(tmp_path.glob("*.json"))


def test_ids_that_are_not_job_ids_never_touch_the_disk(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs", ttl_s=60)
    (tmp_path / "secret.json").write_text("{}")
    assert store.get("../secret") is None
    assert store.get("x" * 32) is None


def test_cancelling_a_queued_job_ends_it_at_once_and_the_first_end_wins(tmp_path: Path) -> None:
    store = JobStore(tmp_path, ttl_s=60)
    record = store.create(1)
    cancelled = store.request_cancel(record.job_id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert store.cancel_requested(record.job_id)
    store.finish(record.job_id, "done", result=a_response())
    again = store.get(record.job_id)
    assert again is not None and again.status == "cancelled" and again.result is None


class BeatClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_only_the_jobs_of_an_owner_gone_silent_are_failed(tmp_path: Path) -> None:
    beats = BeatClock()
    registry = JobRegistry(tmp_path, 60, orphan_after_s=10, beat_clock=beats)
    alive = registry.create(1, False, "replica-a")
    gone = registry.create(1, False, "replica-b")
    beats.now = 5.0
    registry.heartbeat("replica-a")
    beats.now = 12.0
    registry.heartbeat("replica-a")
    survivor, orphan = registry.get(alive.job_id), registry.get(gone.job_id)
    assert survivor is not None and survivor.status == "queued"
    assert orphan is not None and orphan.status == "failed" and orphan.error == ORPHAN_ERROR


def test_a_cancel_asked_anywhere_reaches_only_the_owner_at_its_heartbeat(tmp_path: Path) -> None:
    registry = JobRegistry(tmp_path, 60, orphan_after_s=10)
    record = registry.create(2, False, "replica-a")
    registry.update(record.job_id, "running", None)
    cancelled = registry.request_cancel(record.job_id)
    assert cancelled is not None and cancelled.status == "running", (
        "a running job ends when its owner stops it"
    )
    assert registry.heartbeat("replica-b") == []
    assert registry.heartbeat("replica-a") == [record.job_id]


def test_a_restarted_registry_gives_owners_time_to_report_in(tmp_path: Path) -> None:
    beats = BeatClock()
    first = JobRegistry(tmp_path, 60, orphan_after_s=10, beat_clock=beats)
    record = first.create(1, False, "replica-a")
    again = JobRegistry(tmp_path, 60, orphan_after_s=10, beat_clock=beats)
    reloaded = again.get(record.job_id)
    assert reloaded is not None and reloaded.status == "queued" and reloaded.owner == "replica-a"
    beats.now = 11.0
    assert again.fail_orphans() == 1
    ended = again.get(record.job_id)
    assert ended is not None and ended.status == "failed"


def test_records_and_run_defaults_live_in_an_fsspec_location() -> None:
    location = f"memory://karaoke-jobs-{new_job_id()}"
    registry = JobRegistry(location, 60)
    record = registry.create(1, True, None)
    registry.finish(record.job_id, "done", a_response())
    registry.set_run_defaults(RunDefaults(default_workers=4))
    reopened = JobRegistry(location, 60)
    stored = reopened.get(record.job_id)
    assert stored is not None and stored.status == "done" and stored.admin
    assert reopened.run_defaults() == RunDefaults(default_workers=4)


def test_run_defaults_round_trip_and_sequential_means_one_worker(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_run_defaults(path) == RunDefaults()
    save_run_defaults(path, RunDefaults(default_workers=5, mode="sequential"))
    loaded = load_run_defaults(path)
    assert loaded.workers_for(None) == 1 and loaded.workers_for(4) == 1
    assert RunDefaults(default_workers=4).workers_for(None) == 4
    path.write_text("not json")
    assert load_run_defaults(path) == RunDefaults()


# --- jobs on a real fleet -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(ray_session: None) -> Iterator[WorkerFleet]:
    fleet = start_fleet(ScriptedOptions(), WorkerOptions(num_cpus=0.1), 3)
    yield fleet
    fleet.close()


def pngs(*scripts: str) -> list[bytes]:
    return [make_scripted_png(script, venue=f"Bar {index}") for index, script in enumerate(scripts)]


@pytest.mark.ray
def test_jobs_share_the_fleet_and_return_results_in_input_order(fleet: WorkerFleet) -> None:
    actors_before = set(fleet.actors)
    items = intake([*pngs("sleep:0.2", "ok", "fail:blocked"), b""], max_bytes=10**6)
    seen: list[BatchProgress] = []
    response = run_on_fleet(fleet, items, PoolOptions(workers=3), on_progress=seen.append)
    assert [r.image_index for r in response.results] == [0, 1, 2, 3]
    assert [r.status for r in response.results] == ["ok", "ok", "failed", "failed"]
    assert [s.venue_name for s in response.data.shows] == ["Bar 0", "Bar 1"]
    assert set(fleet.actors) == actors_before, "a job never starts actors of its own"
    final = seen[-1]
    assert final.status == "done"
    assert (final.total_images, final.processed_images, final.failed_images) == (4, 4, 2)


@pytest.mark.ray
def test_a_cancelled_job_stops_and_gives_its_actors_back(fleet: WorkerFleet) -> None:
    items = intake(pngs(*["sleep:0.3"] * 6), max_bytes=10**6)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        run_on_fleet(
            fleet, items, PoolOptions(workers=1), should_stop=lambda: time.monotonic() - started > 0.4
        )
    assert time.monotonic() - started < 1.5
    response = run_on_fleet(fleet, intake(pngs("ok"), max_bytes=10**6), PoolOptions(workers=3))
    assert response.success


class Observer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.finished = threading.Event()

    def run_started(self, workers: int) -> None:
        self.calls.append(("started", workers))

    def run_finished(self, workers: int, response: ParseResponse | None) -> None:
        self.calls.append(("finished", workers))
        self.finished.set()


@pytest.mark.ray
def test_the_runner_records_a_background_job_on_disk(fleet: WorkerFleet, tmp_path: Path) -> None:
    store = JobStore(tmp_path, ttl_s=60)
    observer = Observer()
    runner = JobRunner(fleet, store, PoolOptions(), observer=observer)
    request = RunRequest(items=intake(pngs("ok", "ok"), max_bytes=10**6), workers=2, admin=True)
    record = runner.submit(request)
    assert record.status == "queued"
    assert observer.finished.wait(20)
    assert observer.calls == [("started", 2), ("finished", 2)]
    runner.executor.shutdown(wait=True)  # the record is written after the observer hears of the end
    stored = JobStore(tmp_path, ttl_s=60).get(record.job_id)
    assert stored is not None and stored.status == "done" and stored.admin
    assert stored.result is not None and stored.result.stats.successful_images == 2


@pytest.mark.ray
def test_a_gemini_fleet_shares_the_request_budget_and_the_cache(
    ray_session: None, server: FakeGeminiServer, tmp_path: Path
) -> None:
    import ray

    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.budget_actor import get_rate_limiter
    from pipeline.cache import ResultCache
    from pipeline.ratelimit import RateLimitOptions

    gemini = GeminiOptions(api_key=SecretStr("k"), base_url=server.base_url, backoff_base_s=0.05)
    budget = RateLimitOptions(model="jobs-test", rpm=977)  # limits of its own: a limiter of its own
    gemini_fleet = start_fleet(gemini, WorkerOptions(num_cpus=0.1), 2, budget)
    runner = JobRunner(
        gemini_fleet,
        JobStore(tmp_path / "jobs", ttl_s=60),
        PoolOptions(),
        cache=ResultCache(tmp_path / "c.db"),
    )
    images = [make_scripted_png(venue=f"Bar {n}") for n in range(3)]
    try:
        first = runner.run_now(RunRequest(items=intake(images, max_bytes=10**6), workers=2))
        second = runner.run_now(RunRequest(items=intake(images, max_bytes=10**6), workers=2))
    finally:
        runner.close()
    assert [r.status for r in first.results] == ["ok"] * 3
    assert [r.status for r in second.results] == ["cached"] * 3
    assert len(server.requests) == 3, "the repeat cost no request"
    assert ray.get(get_rate_limiter(budget).snapshot.remote()).granted == 3, "every call took a slot"


@pytest.mark.ray
def test_two_replicas_stores_share_records_and_a_cancel_reaches_the_owner(
    ray_session: None, tmp_path: Path
) -> None:
    owner, other = JobStore.shared(tmp_path / "jobs", 60), JobStore.shared(tmp_path / "jobs", 60)
    try:
        record = owner.create(3)
        owner.mark_running(record.job_id)
        seen = other.get(record.job_id)
        assert seen is not None and seen.status == "running"
        assert not owner.cancel_requested(record.job_id)
        other.request_cancel(record.job_id)
        deadline = time.monotonic() + 5
        while not owner.cancel_requested(record.job_id):
            assert time.monotonic() < deadline, "the cancel did not reach the owner"
            time.sleep(0.05)
        owner.finish(record.job_id, "cancelled")
        ended = other.get(record.job_id)
        assert ended is not None and ended.status == "cancelled"
    finally:
        owner.close()
        other.close()


# --- the fleet: readiness, leases that can be stopped, busy actors given back only when done ------


def ready_fleet(size: int, num_cpus: float = 0.1) -> WorkerFleet:
    fleet = start_fleet(ScriptedOptions(), WorkerOptions(num_cpus=num_cpus), size, ready_only=True)
    deadline = time.monotonic() + 60
    while not fleet.readiness().ready:
        assert time.monotonic() < deadline, fleet.readiness()
        time.sleep(0.05)
    return fleet


@pytest.mark.ray
def test_a_worker_ray_cannot_place_is_never_leased_and_readiness_says_why(ray_session: None) -> None:
    from pipeline.runner import LEASE_STOP

    fleet = start_fleet(ScriptedOptions(), WorkerOptions(num_cpus=64), 1, ready_only=True)
    try:
        readiness = fleet.readiness()
        assert not readiness.ready and readiness.workers == 0 and readiness.wanted == 1
        assert readiness.waiting_for is not None and "64 CPU each" in readiness.waiting_for
        started = time.monotonic()
        token = LEASE_STOP.set(lambda: time.monotonic() - started > 0.3)
        try:
            with pytest.raises(JobCancelled):
                fleet.lease(1)
        finally:
            LEASE_STOP.reset(token)
        assert time.monotonic() - started < 1.5, "a run waiting for workers stops when asked"
    finally:
        fleet.close()


@pytest.mark.ray
def test_busy_actors_of_a_cancelled_run_are_free_again_only_once_their_image_is_done(
    ray_session: None,
) -> None:
    import ray

    fleet = ready_fleet(2)
    try:
        actors = set(fleet.actors)
        started = time.monotonic()
        items = intake(pngs(*["sleep:1.5"] * 4), max_bytes=10**6)
        with pytest.raises(JobCancelled):
            run_on_fleet(
                fleet, items, PoolOptions(workers=2), should_stop=lambda: time.monotonic() - started > 0.3
            )
        cancelled_at = time.monotonic()
        assert cancelled_at - started < 1.2, "the cancel does not wait for the images in flight"
        leased = fleet.lease(2)  # waits for an image in flight to end (its result is dropped)
        assert time.monotonic() - started >= 1.3, "a busy actor was handed out as free"
        leased += fleet.lease(2 - len(leased)) if len(leased) < 2 else []
        assert set(leased) == actors, "finished in time: the same actors, not replacements"
        assert ray.get([actor.ping.remote() for actor in leased], timeout=2), "free means idle"
        fleet.release(leased)
    finally:
        fleet.close()
