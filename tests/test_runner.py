"""The supervised pool on a real local Ray: crashes, kills, timeouts, order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.backends.base import ScriptedOptions
from pipeline.images import ImagePayload, read_bytes
from pipeline.pool import SupervisedPool
from pipeline.progress import ProgressTracker, get_progress_actor
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import ImageResult
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import ImageTask, WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def payloads(*scripts: str) -> list[ImagePayload]:
    return [
        read_bytes(make_scripted_png(script, venue=f"Bar {index}"), index, max_bytes=10**6)
        for index, script in enumerate(scripts)
    ]


def tasks(*scripts: str, job_id: str = "test-job") -> list[ImageTask]:
    return [ImageTask(job_id=job_id, payload=payload) for payload in payloads(*scripts)]


class Pool(SupervisedPool):
    """A pool over a fleet of its own, closed with the pool."""

    def close(self) -> None:
        self.fleet.close()

    @property
    def actors(self) -> list[Any]:
        return self.fleet.actors


def make_pool(workers: int, delay_s: float = 0.0, recycle_after: int = 0, **pool_args: float) -> Pool:
    worker_options = WorkerOptions(num_cpus=0.25, recycle_after=recycle_after)
    fleet = WorkerFleet(ScriptedOptions(delay_s=delay_s), worker_options, workers)
    return Pool(fleet, PoolOptions(workers=workers, **pool_args))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 6, -1, "3", 2.5, True])
def test_pool_sizes_outside_one_to_five_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError, match="workers"):
        PoolOptions(workers=bad)  # type: ignore[arg-type]


def test_results_come_back_one_per_input_in_input_order() -> None:
    pool = make_pool(3)
    try:
        # different delays so they finish out of order
        results = pool.run(tasks("sleep:0.3", "ok", "sleep:0.1", "ok", "sleep:0.2", "ok", "ok"))
    finally:
        pool.close()
    assert [r.image_index for r in results] == list(range(7))
    assert all(r.status == "ok" and r.attempts == 1 for r in results)


def test_an_actor_killed_mid_task_loses_no_image() -> None:
    import ray

    pool = make_pool(2)
    pool.fleet.wait_ready(pool.actors, timeout_s=120)  # so both take an image at once
    tracker = ProgressTracker(job_id="kill-test", total_images=6)
    killed: list[str] = []

    def kill_one_busy_actor() -> None:
        deadline = time.monotonic() + 120
        while tracker.snapshot().active_workers < 2:  # both actors hold an image now
            assert time.monotonic() < deadline, "the two actors never became busy"
            time.sleep(0.01)
        victim = pool.actors[0]
        killed.append(pool.fleet.worker_id(victim))
        ray.kill(victim, no_restart=True)

    killer = threading.Thread(target=kill_one_busy_actor)
    try:
        killer.start()
        results = pool.run(tasks(*["sleep:1.0"] * 6), tracker=tracker)
    finally:
        killer.join()
        pool.close()
    assert killed
    assert [r.status for r in results] == ["ok"] * 6
    assert sorted(r.attempts for r in results)[-1] == 2, "the killed actor's image was retried once"
    assert killed[0] not in {r.worker for r in results if r.attempts == 2}


def test_an_image_that_always_crashes_its_worker_ends_as_worker_crashed() -> None:
    pool = make_pool(2, max_attempts=2)
    try:
        results = pool.run(tasks("ok", "crash", "ok", "ok", "ok"))
    finally:
        pool.close()
    crashed = results[1]
    assert crashed.status == "failed" and crashed.error is not None
    assert crashed.error.code == "worker_crashed"
    assert crashed.attempts == 2
    assert [r.status for i, r in enumerate(results) if i != 1] == ["ok"] * 4


def test_a_slow_image_times_out_without_holding_up_the_rest() -> None:
    finished: list[ImageResult] = []
    pool = make_pool(2, image_timeout_s=2.0)
    try:
        results = pool.run(tasks("sleep:60", "ok", "ok", "ok", "ok", "ok"), on_result=finished.append)
    finally:
        pool.close()
    slow = results[0]
    assert slow.error is not None and slow.error.code == "timeout"
    assert [r.status for r in results[1:]] == ["ok"] * 5
    assert finished[-1].image_index == 0, "the other images finished while the slow one was pending"


def test_a_backend_failure_is_a_failed_result_not_an_exception() -> None:
    pool = make_pool(1)
    try:
        results = pool.run(tasks("fail:bad_model_output", "ok"))
    finally:
        pool.close()
    assert results[0].error is not None and results[0].error.code == "bad_model_output"
    assert results[1].success


def test_workers_are_recycled_after_n_images() -> None:
    pool = make_pool(1, recycle_after=2)
    try:
        results = pool.run(tasks(*["ok"] * 6))
    finally:
        pool.close()
    assert [r.worker for r in results] == [
        "worker-1",
        "worker-1",
        "worker-2",
        "worker-2",
        "worker-3",
        "worker-3",
    ]


def test_progress_actor_is_one_per_cluster() -> None:
    import ray

    first, second = get_progress_actor(), get_progress_actor()
    assert ray.get(first.get.remote("nope")) is None
    assert first._actor_id == second._actor_id


def test_concurrent_runs_share_one_fleet_without_new_actors() -> None:
    pool = make_pool(3, delay_s=0.2)
    before = {pool.fleet.worker_id(actor) for actor in pool.actors}
    outcomes: list[list[ImageResult]] = []

    def one_run(job: str) -> None:
        outcomes.append(
            SupervisedPool(pool.fleet, PoolOptions(workers=2)).run(tasks("ok", "ok", "ok", job_id=job))
        )

    threads = [threading.Thread(target=one_run, args=(f"job-{n}",)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        after = {pool.fleet.worker_id(actor) for actor in pool.actors}
    finally:
        pool.close()
    assert len(outcomes) == 4
    assert all([r.status for r in run] == ["ok"] * 3 for run in outcomes)
    assert after == before, "no actor was started or lost"
    assert {r.worker for run in outcomes for r in run} <= before


def test_stream_pulls_lazily_and_keeps_at_most_read_ahead_unfinished() -> None:
    pool = make_pool(2)
    pulled: list[int] = []
    finished: list[int] = []
    most_unfinished = 0

    def lazily() -> Iterator[ImageTask]:
        nonlocal most_unfinished
        for task in tasks(*["ok"] * 20):
            pulled.append(task.payload.index)
            most_unfinished = max(most_unfinished, len(pulled) - len(finished))
            yield task

    try:
        delivered = pool.stream(lazily(), lambda r: finished.append(r.image_index), read_ahead=4)
    finally:
        pool.close()
    assert delivered == 20
    assert sorted(finished) == list(range(20))
    assert most_unfinished <= 4


def test_a_worker_that_cannot_start_is_a_clear_error_not_a_hang() -> None:
    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.errors import ConfigError

    fleet = WorkerFleet(GeminiOptions(api_key=None), WorkerOptions(num_cpus=0.1), 1)
    try:
        with pytest.raises(ConfigError, match=r"could not start.*GEMINI_API_KEY"):
            SupervisedPool(fleet, PoolOptions(workers=1)).run(tasks("ok"))
    finally:
        fleet.close()


def test_bulk_runs_leave_a_shared_fleets_last_worker_for_interactive_ones() -> None:
    fleet = WorkerFleet(ScriptedOptions(), WorkerOptions(num_cpus=0.25), 3, interactive_workers=1)
    alone = WorkerFleet(ScriptedOptions(), WorkerOptions(num_cpus=0.25), 1, interactive_workers=1)
    try:
        fleet.wait_ready(fleet.actors, 120)
        bulk = fleet.lease(5, "bulk")
        assert len(bulk) == 2, "the last free worker stays for a user's request"
        assert len(fleet.lease(5, "interactive")) == 1
        alone.wait_ready(alone.actors, 120)
        assert len(alone.lease(5, "bulk")) == 1, "bulk never waits on a fleet of one"
    finally:
        fleet.close()
        alone.close()
