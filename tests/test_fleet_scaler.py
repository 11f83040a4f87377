"""A fleet that follows the load, on a real local Ray: states, not timings.

The images of a burst are held by their workers (the scripted ``wait:PATH``) until the
test opens a gate, so "every worker of the grown fleet holds an image at once" is a state
the test waits for, whatever the machine's load; so is "back to one worker" once idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.autoscale import FleetScaling, ScalingPolicy
from pipeline.backends.base import ScriptedOptions
from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.images import read_bytes
from pipeline.pool import SupervisedPool, start_fleet
from pipeline.progress import ProgressTracker
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import ImageResult
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import ImageTask, WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

DEADLINE_S = 240.0  # a condition not met by then is a failure; met sooner, the test goes on at once


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.05)


def tasks(*scripts: str, job_id: str) -> list[ImageTask]:
    return [
        ImageTask(
            job_id=job_id,
            payload=read_bytes(make_scripted_png(script, venue=f"Bar {index}"), index, max_bytes=10**6),
        )
        for index, script in enumerate(scripts)
    ]


def run_in_thread(
    pool: SupervisedPool, images: list[ImageTask], tracker: ProgressTracker
) -> tuple[threading.Thread, list[ImageResult]]:
    results: list[ImageResult] = []
    thread = threading.Thread(target=lambda: results.extend(pool.run(images, tracker=tracker)), daemon=True)
    thread.start()
    return thread, results


def test_a_burst_grows_the_fleet_to_its_useful_size_and_idleness_shrinks_it(tmp_path: Path) -> None:
    import ray

    gate = tmp_path / "open"
    scaling = FleetScaling(min_workers=1, max_workers=4, idle_s=0.5, interval_s=0.1)
    fleet = WorkerFleet(ScriptedOptions(), WorkerOptions(num_cpus=0.25), 1, scaling=scaling)
    try:
        pool = SupervisedPool(fleet, PoolOptions(workers=4, image_timeout_s=900))
        tracker = ProgressTracker("burst", 10)
        thread, results = run_in_thread(pool, tasks(*[f"wait:{gate}"] * 10, job_id="burst"), tracker)
        # the burst: ten images wait, one worker; the fleet grows until four hold an image at once
        wait_for(lambda: tracker.snapshot().active_workers == 4, "four workers busy at once")
        load, _ = fleet.load()
        assert ScalingPolicy(scaling).target(load) == 4, "the useful size: the run's limit of four"
        assert (fleet.size, len(fleet.actors)) == (4, 4)
        snapshot = tracker.snapshot()
        assert (snapshot.fleet_workers, snapshot.max_workers) == (4, 4)
        busy = list(fleet.actors)

        gate.touch()
        thread.join(DEADLINE_S)
        assert not thread.is_alive()
        # nothing lost on the way down: one result per image, each sent once, all answered
        assert sorted(result.image_index for result in results) == list(range(10))
        assert all(result.status == "ok" and result.attempts == 1 for result in results)
        assert len({result.worker for result in results}) == 4

        # idle: back to the minimum, the released actors really gone
        wait_for(lambda: fleet.size == 1 and len(fleet.actors) == 1, "the fleet back to one worker")
        kept = fleet.actors[0]
        assert kept in busy
        gone = [actor for actor in busy if actor != kept]
        for actor in gone:
            with pytest.raises(ray.exceptions.RayActorError):
                ray.get(actor.ping.remote(), timeout=60)
        assert fleet.scaler is not None
        sizes = [size for _, size in fleet.scaler.history]
        assert max(sizes) == 4 and sizes[-1] == 1
    finally:
        fleet.close()


def test_shrinking_never_cancels_an_image_in_flight(tmp_path: Path) -> None:
    """Idle workers go while one still holds a slow image: that one finishes, on its worker."""
    slow, rest = tmp_path / "slow", tmp_path / "rest"
    scaling = FleetScaling(min_workers=1, max_workers=3, idle_s=0.2, interval_s=0.1)
    fleet = WorkerFleet(ScriptedOptions(), WorkerOptions(num_cpus=0.25), 3, scaling=scaling)
    try:
        pool = SupervisedPool(fleet, PoolOptions(workers=3, image_timeout_s=900))
        tracker = ProgressTracker("slow", 3)
        images = tasks(f"wait:{slow}", f"wait:{rest}", f"wait:{rest}", job_id="slow")
        thread, results = run_in_thread(pool, images, tracker)
        wait_for(lambda: tracker.snapshot().active_workers == 3, "three workers busy at once")
        rest.touch()
        # two images done, nothing left to send: the run gives their workers back, the fleet
        # releases them once idle; the third worker, busy, stays
        wait_for(lambda: fleet.size == 1, "the idle workers released")
        assert thread.is_alive() and tracker.snapshot().active_workers == 1
        slow.touch()
        thread.join(DEADLINE_S)
        assert sorted(result.image_index for result in results) == [0, 1, 2]
        assert all(result.status == "ok" and result.attempts == 1 for result in results)
    finally:
        fleet.close()


def test_a_pinned_fleet_keeps_its_size_when_idle() -> None:
    fleet = WorkerFleet(ScriptedOptions(), WorkerOptions(num_cpus=0.25), 2)
    try:
        assert fleet.scaler is None and fleet.scaling.is_pinned
        results = SupervisedPool(fleet, PoolOptions(workers=2)).run(tasks("ok", "ok", "ok", job_id="pinned"))
        assert [result.status for result in results] == ["ok"] * 3
        assert fleet.retire(2) == 0, "never below its pinned size"
        assert len(fleet.actors) == 2
    finally:
        fleet.close()


def test_a_budgeted_fleet_grows_to_rate_times_latency_not_to_the_runs_limit(server: FakeGeminiServer) -> None:
    """One request a second, 1.2 s a request: two workers keep the budget busy (a request may take
    up to 2 s on a loaded machine and two still do). A run that may use five grows the fleet from
    one to two (an unmetered one would take five, see above), and idleness takes it back to one."""
    server.configure(FakeGeminiOptions(extract="echo", latency_median_ms=1200))
    backend = GeminiOptions(
        api_key="test-key-fleet-scaler-0123456789", base_url=server.base_url, model="scaler"
    )
    limits = RateLimitOptions(
        model="scaler", key_fingerprint="scaler-test", rpm=1, window_s=1.0, margin_s=0.05
    )
    scaling = FleetScaling(min_workers=1, max_workers=5, idle_s=0.3, interval_s=0.1)
    fleet = start_fleet(backend, WorkerOptions(num_cpus=0.1), 1, limits, scaling=scaling)
    try:
        fleet.wait_ready(fleet.actors, DEADLINE_S)
        stamp = time.time()
        batch = [
            read_bytes(make_scripted_png(venue=f"Budgeted {stamp} {n}"), n, max_bytes=10**6)
            for n in range(12)
        ]
        tracker = ProgressTracker("budgeted", 12)
        pool = SupervisedPool(fleet, PoolOptions(workers=5, image_timeout_s=60))
        job = [ImageTask(job_id="budgeted", payload=payload) for payload in batch]
        thread, results = run_in_thread(pool, job, tracker)
        wait_for(lambda: fleet.size == 2, "the fleet grown to its useful size of two")
        load, _ = fleet.load()
        assert load.latency_s is not None and 1.2 <= load.latency_s < 2.0
        assert tracker.snapshot().remaining_images > 0, "it grew under load"
        thread.join(DEADLINE_S)
        assert sorted(result.image_index for result in results) == list(range(12))
        assert all(result.status == "ok" for result in results), [r.error for r in results if r.error]
        assert fleet.scaler is not None
        assert max(size for _, size in fleet.scaler.history) == 2, "never the run's five"
        wait_for(lambda: fleet.size == 1, "back to one worker once idle")
    finally:
        fleet.close()
