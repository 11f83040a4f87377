"""``--deadline``: what the Batch API leaves unanswered goes through the online dispatcher (Ray)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.batch import BatchOptions, read_shards
from pipeline.batch_api import WORKER, BatchApiOptions, run_batch_api
from pipeline.batch_api_command import parse_duration, run_via_batch_api
from pipeline.batch_manifest import BatchManifest
from pipeline.images import read_path
from pipeline.plan import JobPlan
from pipeline.runner import PoolOptions
from pipeline.schema import BatchProgress
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


def _run(
    fake: FakeGeminiServer, tmp_path: Path, deadline_s: float, online_share: float = 0.5, retry: bool = False
) -> dict[str, object]:
    api = BatchApiOptions(
        max_requests_per_job=10, poll_initial_s=0.05, poll_max_s=0.2, deadline_s=deadline_s,
        online_share=online_share,
    )  # fmt: skip
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"), retry_failed=retry)
    seen: list[BatchProgress] = []
    summary = run_via_batch_api(
        options, _plan(fake), api, ray_address=None, runtime=None,
        on_progress=lambda progress: seen.append(progress.snapshot()), on_online_progress=lambda counts: None,
    )  # fmt: skip
    return {"summary": summary, "results": list(read_shards(str(tmp_path / "out"))), "last": seen[-1]}


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
    run = _run(fake, tmp_path, deadline_s=parse_duration("40s"), online_share=0.9)  # 4 s for the jobs
    results = run["results"]
    assert isinstance(results, list)
    assert Counter(r.source for r in results) == Counter(str(path) for path in paths)
    assert all(r.success for r in results)
    jobs = BatchManifest.read(str(tmp_path / "out")).jobs
    assert [fake.batches.jobs[job.name].state for job in jobs if job.name] == ["CANCELLED", "CANCELLED"]


def _sources(results: object) -> Counter[str]:
    assert isinstance(results, list)
    return Counter(result.source for result in results)


def test_the_online_part_stops_at_the_deadline_and_a_retry_round_finishes_the_rest(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 12)
    fake.batches.configure(FakeBatchOptions(hold="pending"))  # the jobs never end in time
    fake.configure(FakeGeminiOptions(extract="echo", latency_median_ms=1000))  # 2 workers: 2 a second
    fake.clear_requests()
    try:
        run = _run(fake, tmp_path, deadline_s=6, online_share=0.5)  # 3 s online: 6 images at most
    finally:
        fake.configure(FakeGeminiOptions(extract="echo"))
    results = run["results"]
    assert isinstance(results, list)
    assert _sources(results) == Counter(str(path) for path in paths)  # one result each: none lost
    late = [r for r in results if not r.success]
    assert len(late) >= 6 and {r.error.code for r in late} == {"timeout"}
    assert all("no answer by the deadline" in r.error.message for r in late)
    answered_online = [r for r in results if r.success]
    assert all(not r.worker.startswith(WORKER) for r in answered_online)
    sent = [r for r in fake.requests if r.path.endswith(":generateContent")]
    assert len(sent) == len(answered_online)  # what was sent online was answered, once
    last = run["last"]
    assert isinstance(last, BatchProgress) and last.status == "done"
    assert (last.processed_images, last.remaining_images, last.failed_images) == (12, 0, len(late))

    fake.batches.configure(FakeBatchOptions())  # a later round with --retry-failed finishes them
    again = _run(fake, tmp_path, deadline_s=60, retry=True)
    by_source: dict[str, list[object]] = {}
    for result in again["results"]:  # type: ignore[attr-defined]
        by_source.setdefault(result.source, []).append(result)
    assert set(by_source) == {str(path) for path in paths}
    assert all(sum(r.success for r in rs) == 1 for rs in by_source.values())  # type: ignore[attr-defined]
    assert again["summary"].successful_images == 12  # type: ignore[attr-defined]


def test_a_rerun_counts_the_deadline_from_the_first_run(fake: FakeGeminiServer, tmp_path: Path) -> None:
    paths = _images(tmp_path / "in", 4)
    fake.batches.configure(FakeBatchOptions())
    first = _run(fake, tmp_path, deadline_s=30)
    assert first["summary"].successful_images == 4  # type: ignore[attr-defined]
    manifest = BatchManifest.read(str(tmp_path / "out"))
    assert manifest.started_at is not None and manifest.deadline_s == 30
    started = manifest.started_at - dt.timedelta(seconds=40)  # as if the first run was 40 s ago
    manifest.model_copy(update={"started_at": started}).write(str(tmp_path / "out"))
    more = tmp_path / "in" / "shot-late.png"  # a screenshot added since: the same command again
    more.write_bytes(make_scripted_png(venue="Late Bar"))
    fake.batches.configure(FakeBatchOptions(hold="pending"))
    fake.clear_requests()
    again = _run(fake, tmp_path, deadline_s=30)  # 30 s from the first run: already past
    late = [r for r in again["results"] if r.source == str(more)]  # type: ignore[attr-defined]
    assert [r.error.code for r in late] == ["timeout"] and "deadline" in late[0].error.message
    assert not [r for r in fake.requests if r.path.endswith(":generateContent")]  # nothing online
    assert BatchManifest.read(str(tmp_path / "out")).started_at == started
    assert again["summary"].successful_images == len(paths)  # type: ignore[attr-defined]


def test_images_found_after_the_batch_share_go_online_without_a_job(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    """A re-run after the Batch API's share of the deadline: a job for the new image would only be
    cancelled at its first poll, so none is created; the image is answered online in time."""
    _images(tmp_path / "in", 3)
    fake.batches.configure(FakeBatchOptions())
    assert _run(fake, tmp_path, deadline_s=120)["summary"].successful_images == 3  # type: ignore[attr-defined]
    manifest = BatchManifest.read(str(tmp_path / "out"))
    assert manifest.started_at is not None
    started = manifest.started_at - dt.timedelta(seconds=70)  # past the half for the jobs, 50 s left
    manifest.model_copy(update={"started_at": started}).write(str(tmp_path / "out"))
    more = tmp_path / "in" / "shot-late.png"
    more.write_bytes(make_scripted_png(venue="Late Bar"))
    fake.batches.configure(FakeBatchOptions())
    fake.clear_requests()
    again = _run(fake, tmp_path, deadline_s=120)
    assert fake.batches.create_requests == 0, "no job created after the Batch API's share"
    late = [r for r in again["results"] if r.source == str(more)]  # type: ignore[attr-defined]
    assert [r.success for r in late] == [True]
    assert len([r for r in fake.requests if r.path.endswith(":generateContent")]) == 1
    assert again["summary"].successful_images == 4  # type: ignore[attr-defined]


def test_a_retry_rounds_leftovers_go_online_though_an_earlier_round_failed_them(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 4)
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    api = BatchApiOptions(poll_initial_s=0.05, poll_max_s=0.2)
    fake.batches.configure(FakeBatchOptions(expire_jobs={len(fake.batches.jobs) + 1}))
    first = run_batch_api(options, api, _plan(fake).backend)  # type: ignore[arg-type]  # no deadline
    assert first.failures_by_code == {"timeout": 4}
    fake.batches.configure(FakeBatchOptions(expire_jobs={len(fake.batches.jobs) + 1}))  # again
    fake.clear_requests()
    again = _run(fake, tmp_path, deadline_s=60, retry=True)
    online = [r for r in again["results"] if r.success]  # type: ignore[attr-defined]
    assert sorted(r.source for r in online) == [str(path) for path in paths]
    assert all(not r.worker.startswith(WORKER) for r in online)
    assert len([r for r in fake.requests if r.path.endswith(":generateContent")]) == 4
