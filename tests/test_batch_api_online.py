"""``--deadline``: what the Batch API leaves unanswered goes through the online dispatcher (Ray)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.batch import BatchOptions, read_shards
from pipeline.batch_api import WORKER, BatchApiOptions
from pipeline.batch_api_command import parse_duration, run_via_batch_api
from pipeline.batch_manifest import BatchManifest
from pipeline.images import read_path
from pipeline.plan import JobPlan
from pipeline.runner import PoolOptions
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer
from pipeline.testing.fake_gemini_batch import FakeBatchOptions
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(FakeGeminiOptions(extract="echo")) as server:
        yield server


def _plan(fake: FakeGeminiServer) -> JobPlan:
    backend = GeminiOptions(api_key=SecretStr("test-key"), base_url=fake.base_url, backoff_base_s=0.05)
    return JobPlan(
        backend=backend,
        pool=PoolOptions(workers=2, image_timeout_s=10),
        worker=WorkerOptions(num_cpus=0.1),
    )


def _images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = [folder / f"shot-{number:02d}.png" for number in range(count)]
    for number, path in enumerate(paths):
        path.write_bytes(make_scripted_png(venue=f"Bar {number}", size=(30 + number, 24)))
    return paths


def _run(fake: FakeGeminiServer, tmp_path: Path, deadline_s: float) -> dict[str, object]:
    api = BatchApiOptions(
        max_requests_per_job=10, poll_initial_s=0.05, poll_max_s=0.2, deadline_s=deadline_s, online_share=0.5
    )
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    summary = run_via_batch_api(
        options, _plan(fake), api, ray_address=None, runtime=None,
        on_progress=lambda progress: None, on_online_progress=lambda counts: None,
    )  # fmt: skip
    return {"summary": summary, "results": list(read_shards(str(tmp_path / "out")))}


def test_an_expired_job_goes_online_and_a_failed_request_keeps_its_code(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 30)
    failing = read_path(paths[15], 0, max_bytes=10**6).sha256
    overloaded = read_path(paths[25], 0, max_bytes=10**6).sha256
    first = len(fake.batches.jobs) + 1
    fake.batches.configure(
        FakeBatchOptions(
            delay_s=0.2, expire_jobs={first}, fail_images={failing}, overloaded_images={overloaded}
        )
    )
    fake.clear_requests()
    run = _run(fake, tmp_path, deadline_s=60)
    results = run["results"]
    assert isinstance(results, list)
    assert Counter(r.source for r in results) == Counter(str(path) for path in paths)  # one each
    by_source = {r.source: r for r in results}
    online = [str(path) for path in [*paths[:10], paths[25]]]  # the expired job's, and a 503's
    assert all(by_source[s].success and not by_source[s].worker.startswith(WORKER) for s in online)
    assert by_source[str(paths[15])].error.code == "upstream_error"  # failed in its job, as online
    online_requests = [r for r in fake.requests if r.path.endswith(":generateContent")]
    assert len(online_requests) == 11
    summary = run["summary"]
    assert summary.successful_images == 29 and summary.failures_by_code == {"upstream_error": 1}
    assert [job.state for job in BatchManifest.read(str(tmp_path / "out")).jobs] == [
        "expired", "succeeded", "succeeded"
    ]  # fmt: skip


def test_jobs_still_out_near_the_deadline_are_cancelled_and_go_online(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 12)
    fake.batches.configure(FakeBatchOptions(delay_s=3600))  # never done in time
    fake.clear_requests()
    run = _run(fake, tmp_path, deadline_s=parse_duration("4s"))
    results = run["results"]
    assert isinstance(results, list)
    assert Counter(r.source for r in results) == Counter(str(path) for path in paths)
    assert all(r.success for r in results)
    jobs = BatchManifest.read(str(tmp_path / "out")).jobs
    assert [fake.batches.jobs[job.name].state for job in jobs if job.name] == ["CANCELLED", "CANCELLED"]
