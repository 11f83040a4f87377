"""A Batch API run is visible while it waits: its BatchProgress (progress actor), its jobs (metrics)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import ray
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.batch import BatchOptions, BatchSummary
from pipeline.batch_api import BatchApiOptions, run_batch_api
from pipeline.batch_manifest import MANIFEST, BatchManifest
from pipeline.metrics import metrics
from pipeline.progress import get_progress_actor
from pipeline.schema import BatchProgress
from pipeline.testing.fake_gemini import FakeGeminiServer
from pipeline.testing.fake_gemini_batch import FakeBatchOptions
from pipeline.testing.scripted import make_scripted_png

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

T = TypeVar("T")


def _wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 60.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found is not None and found is not False:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not seen within {timeout_s} s: {what}")


def _published(job_id: str, state: str) -> BatchProgress | None:
    """The run's BatchProgress in the progress actor, once its 3 jobs all show ``state``."""
    progress: BatchProgress | None = ray.get(get_progress_actor().get.remote(job_id), timeout=30)
    if progress is None or [job.state for job in progress.batch_api_jobs] != [state] * 3:
        return None
    return progress


def _job_id(output: Path) -> str | None:
    return BatchManifest.read(str(output)).job_id if (output / MANIFEST).exists() else None


def _gauges(jobs: int, images: int, state: str) -> bool:
    totals = metrics().batch_api_totals()
    return totals[0].get(state) == jobs and totals[1].get(state) == images


def test_the_jobs_states_move_in_the_progress_actor_and_the_metrics(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for number in range(12):
        (folder / f"shot-{number:02d}.png").write_bytes(make_scripted_png(venue=f"Bar {number}"))
    output = tmp_path / "out"
    server.batches.configure(FakeBatchOptions(hold="pending"))  # the jobs wait until told to move on
    backend = GeminiOptions(api_key=SecretStr("test-key"), base_url=server.base_url)
    api = BatchApiOptions(max_requests_per_job=5, poll_initial_s=0.02, poll_max_s=0.1)
    outcome: dict[str, BatchSummary] = {}

    def run() -> None:
        outcome["summary"] = run_batch_api(BatchOptions(input=str(folder), output=str(output)), api, backend)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        job_id = _wait_for("a manifest", lambda: _job_id(output))
        pending = _wait_for("3 pending jobs", lambda: _published(job_id, "pending"))
        assert (pending.status, pending.total_images, pending.remaining_images) == ("running", 12, 12)
        assert sorted(job.images for job in pending.batch_api_jobs) == [2, 5, 5]
        assert all(job.name and job.name.startswith("batches/") for job in pending.batch_api_jobs)
        _wait_for("3 pending jobs in the gauges", lambda: _gauges(3, 12, "pending"))

        server.batches.configure(FakeBatchOptions(hold="running"))
        running = _wait_for("3 running jobs", lambda: _published(job_id, "running"))
        assert running.status == "running" and running.processed_images == 0
        _wait_for("3 running jobs in the gauges", lambda: _gauges(3, 12, "running"))
        assert metrics().batch_api_totals()[0]["pending"] == 0
    finally:
        server.batches.configure(FakeBatchOptions())  # let the jobs end, whatever happened above
        thread.join(timeout=120)
    assert outcome["summary"].successful_images == 12
    done = _wait_for("3 succeeded jobs", lambda: _published(job_id, "succeeded"))
    assert (done.status, done.processed_images, done.remaining_images) == ("done", 12, 0)
    assert (done.current_batch, done.total_batches) == (3, 3)
    assert metrics().batch_api_totals() == ({}, {})  # an ended run leaves the gauges
