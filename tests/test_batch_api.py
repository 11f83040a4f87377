"""``batch --via gemini-batch``: the Batch API path with the real google-genai SDK over HTTP to the fake."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiBackend, GeminiOptions, generation_config
from pipeline.backends.gemini.batch import GeminiBatchClient, build_request
from pipeline.batch import BatchOptions, read_shards
from pipeline.batch_api import BatchApiOptions, run_batch_api
from pipeline.batch_api_spool import JobSpool
from pipeline.batch_manifest import BatchManifest
from pipeline.clean import clean_schedule
from pipeline.images import open_image, read_path
from pipeline.reduce import ScheduleReducer
from pipeline.schema import Usage
from pipeline.settings import get_settings
from pipeline.testing.fake_gemini import FakeGeminiServer
from pipeline.testing.fake_gemini_batch import FakeBatchOptions
from pipeline.testing.scripted import make_scripted_png

SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "screenshots"
FAST = BatchApiOptions(poll_initial_s=0.02, poll_max_s=0.1)


def _backend(server: FakeGeminiServer) -> GeminiOptions:
    return GeminiOptions(api_key=SecretStr("test-key"), base_url=server.base_url)


def _images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for number in range(count):
        path = folder / f"shot-{number:03d}.png"
        path.write_bytes(make_scripted_png(venue=f"Bar {number}", size=(32 + number % 7, 24 + number // 7)))
        paths.append(path)
    return paths


def _one_result_each(output: Path, paths: list[Path]) -> dict[str, object]:
    counts = Counter(result.source for result in read_shards(str(output)))
    assert set(counts) == {str(path) for path in paths}
    assert set(counts.values()) == {1}, {source: n for source, n in counts.items() if n > 1}
    return {result.source: result for result in read_shards(str(output))}


def test_200_screenshots_match_the_online_path_at_half_the_cost(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    server.batches.configure(FakeBatchOptions(delay_s=0.3))
    paths = _images(tmp_path / "in", 200)
    backend = _backend(server)
    api = FAST.model_copy(update={"max_requests_per_job": 70, "inline_limit_bytes": 380_000})
    summary = run_batch_api(
        BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out")), api, backend
    )
    _one_result_each(tmp_path / "out", paths)
    jobs = BatchManifest.read(str(tmp_path / "out")).jobs
    assert len(jobs) == 3 and {job.inline for job in jobs} == {True, False}  # inline and via a file
    assert sum(server.batches.creates[job.display_name] for job in jobs) == 3

    online, reducer, usage = GeminiBackend(backend), ScheduleReducer(), Usage()
    for path in paths:
        image = open_image(read_path(path, 0, max_bytes=10_000_000), max_pixels=10_000_000)
        answer = online.extract(image)
        reducer.add(clean_schedule(answer.schedule), str(path))
        usage += answer.usage or Usage()
    online_cost = backend.estimated_cost(usage, get_settings())
    assert summary.successful_images == 200 and summary.data == reducer.result()
    assert summary.usage == usage
    assert summary.estimated_cost == pytest.approx(online_cost / 2)


def test_a_driver_killed_after_sending_a_create_is_resumed_without_a_second_job(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 25)
    server.batches.configure(FakeBatchOptions(create_reply_delay_s=120))
    before = len(server.batches.jobs)
    driver = Path(__file__).parent / "drivers" / "batch_api_driver.py"
    args = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--base-url", server.base_url]
    process = subprocess.Popen([sys.executable, str(driver), *args])
    try:
        deadline = time.monotonic() + 60
        while len(server.batches.jobs) == before:  # the create has arrived; its reply is held back
            assert time.monotonic() < deadline and process.poll() is None, "no create arrived"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    manifest = BatchManifest.read(str(tmp_path / "out"))
    assert [job.name for job in manifest.jobs] == [None]  # recorded before the create, never after

    server.batches.configure(FakeBatchOptions(delay_s=0.1))
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    summary = run_batch_api(options, FAST.model_copy(update={"max_requests_per_job": 10}), _backend(server))
    jobs = BatchManifest.read(str(tmp_path / "out")).jobs
    assert len(jobs) == 3 and all(server.batches.creates[job.display_name] == 1 for job in jobs)
    assert len(server.batches.jobs) - before == 3
    _one_result_each(tmp_path / "out", paths)
    assert summary.successful_images == 25

    again = run_batch_api(options, FAST, _backend(server))  # the same command once more: nothing sent
    assert len(server.batches.jobs) - before == 3 and again.successful_images == 25


def test_an_expired_job_and_a_failed_request_end_with_clear_codes(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 30)
    failing = read_path(paths[15], 0, max_bytes=10_000_000).sha256
    overloaded = read_path(paths[25], 0, max_bytes=10_000_000).sha256
    first = len(server.batches.jobs) + 1
    server.batches.configure(
        FakeBatchOptions(
            delay_s=0.1, expire_jobs={first}, fail_images={failing}, overloaded_images={overloaded}
        )
    )
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    summary = run_batch_api(options, FAST.model_copy(update={"max_requests_per_job": 10}), _backend(server))
    results = _one_result_each(tmp_path / "out", paths)
    expired = [str(path) for path in paths[:10]]
    assert all(results[source].error.code == "timeout" for source in expired)  # type: ignore[attr-defined]
    assert "EXPIRED" in results[expired[0]].error.message  # type: ignore[attr-defined]
    assert results[str(paths[15])].error.code == "upstream_error"  # type: ignore[attr-defined]
    assert "overloaded" in results[str(paths[25])].error.message  # type: ignore[attr-defined]
    assert summary.successful_images == 18 and summary.failures_by_code == {
        "timeout": 10,
        "upstream_error": 2,
    }


def test_the_command_runs_then_resumes_without_sending_again(
    server: FakeGeminiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline.cli import EXIT_OK, EXIT_USAGE, main

    paths = _images(tmp_path / "in", 12)
    server.batches.configure(FakeBatchOptions())
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("KARAOKE_GEMINI_BASE_URL", server.base_url)
    monkeypatch.setenv("KARAOKE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        argv = ["batch", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--via", "gemini-batch"]
        before = len(server.batches.jobs)
        assert main(argv) == EXIT_OK
        err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
        assert "1 Batch API job (1 succeeded); 12 answered" in err and "Batch API prices" in err
        assert main(argv) == EXIT_OK  # the same command again: nothing new is sent
        assert len(server.batches.jobs) - before == 1
        _one_result_each(tmp_path / "out", paths)
        with pytest.raises(SystemExit) as caught:
            main([*argv, "--deadline", "soon"])
        assert caught.value.code == EXIT_USAGE
    finally:
        get_settings.cache_clear()


def test_retry_failed_submits_an_expired_jobs_images_again_under_a_new_name(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 4)
    server.batches.configure(FakeBatchOptions(expire_jobs={len(server.batches.jobs) + 1}))
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    first = run_batch_api(options, FAST, _backend(server))
    assert first.failures_by_code == {"timeout": 4}
    assert run_batch_api(options, FAST, _backend(server)).failures_by_code == {"timeout": 4}  # not sent
    again = run_batch_api(options.model_copy(update={"retry_failed": True}), FAST, _backend(server))
    assert again.successful_images == 4 and again.failed_images == 0
    names = [job.display_name for job in BatchManifest.read(str(tmp_path / "out")).jobs]
    assert len(names) == 2 and names[0] != names[1] and names[0][:-2] == names[1][:-2]
    assert {str(path) for path in paths} == {
        r.source for r in read_shards(str(tmp_path / "out")) if r.success
    }


def test_a_429_on_create_is_sent_again_after_its_delay_and_makes_one_job(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 3)
    server.batches.configure(FakeBatchOptions(create_429s=1, create_retry_delay_s=0.3))
    before = len(server.batches.jobs)
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    summary = run_batch_api(options, FAST, _backend(server))
    assert server.batches.create_requests == 2 and len(server.batches.jobs) - before == 1
    (job,) = BatchManifest.read(str(tmp_path / "out")).jobs
    assert server.batches.creates[job.display_name] == 1
    _one_result_each(tmp_path / "out", paths)
    assert summary.successful_images == 3


def test_a_run_stopped_while_collecting_is_collected_again_without_duplicates(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    paths = _images(tmp_path / "in", 8)
    server.batches.configure(FakeBatchOptions())
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    api = FAST.model_copy(update={"max_requests_per_job": 4})
    run_batch_api(options, api, _backend(server))
    manifest = BatchManifest.read(str(tmp_path / "out"))
    for job in manifest.jobs:  # as if the run stopped after writing results, before marking the jobs
        job.collected = False
    manifest.write(str(tmp_path / "out"))
    before = len(server.batches.jobs)
    summary = run_batch_api(options, api, _backend(server))
    assert len(server.batches.jobs) == before and summary.successful_images == 8
    _one_result_each(tmp_path / "out", paths)
    assert all(job.collected for job in BatchManifest.read(str(tmp_path / "out")).jobs)


def test_the_same_content_under_two_names_is_asked_once(server: FakeGeminiServer, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, venue in [("a", "A"), ("b", "B"), ("c", "C"), ("d-copy-of-a", "A"), ("e-copy-of-b", "B")]:
        (folder / f"{name}.png").write_bytes(make_scripted_png(venue=venue))
    server.batches.configure(FakeBatchOptions())
    before = len(server.batches.jobs)
    options = BatchOptions(input=str(folder), output=str(tmp_path / "out"))
    summary = run_batch_api(options, FAST.model_copy(update={"max_requests_per_job": 2}), _backend(server))
    new_jobs = list(server.batches.jobs.values())[before:]
    assert sum(len(job.lines) for job in new_jobs) == 3  # a, b and c: one request each
    assert summary.successful_images == 5
    _one_result_each(tmp_path / "out", sorted(folder.iterdir()))


def test_a_near_copy_of_an_answered_image_is_answered_from_the_cache_not_sent(
    server: FakeGeminiServer, tmp_path: Path
) -> None:
    original = (
        Path(__file__).resolve().parents[1] / "examples" / "screenshots" / "006-table.png"
    ).read_bytes()
    with Image.open(io.BytesIO(original)) as image:  # forwarded: half the size, re-compressed
        small = image.convert("RGB").resize((image.width // 2, image.height // 2))
    forwarded = io.BytesIO()
    small.save(forwarded, format="JPEG", quality=70)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "table.png").write_bytes(original)
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "table-forwarded.jpg").write_bytes(forwarded.getvalue())
    (tmp_path / "two" / "other.png").write_bytes(make_scripted_png(venue="Other Bar", size=(300, 200)))
    server.batches.configure(FakeBatchOptions())
    cache = str(tmp_path / "cache.sqlite3")
    first = run_batch_api(
        BatchOptions(input=str(tmp_path / "one"), output=str(tmp_path / "out1"), cache_path=cache),
        FAST,
        _backend(server),
    )
    assert first.successful_images == 1 and first.cached_images == 0
    before = len(server.batches.jobs)
    second = run_batch_api(
        BatchOptions(input=str(tmp_path / "two"), output=str(tmp_path / "out2"), cache_path=cache),
        FAST,
        _backend(server),
    )
    (new_job,) = list(server.batches.jobs.values())[before:]
    assert len(new_job.lines) == 1  # only the other image went into a Batch API request
    results = {Path(result.source).name: result for result in read_shards(str(tmp_path / "out2"))}
    (earlier,) = list(read_shards(str(tmp_path / "out1")))
    copy = results["table-forwarded.jpg"]
    assert copy.status == "cached" and copy.similar_to == earlier.sha256 and copy.data == earlier.data
    assert copy.to_wire()["similarTo"] == earlier.sha256
    assert results["other.png"].status == "ok" and second.cached_images == 1
    (job,) = BatchManifest.read(str(tmp_path / "out2")).jobs
    assert [Path(entry.source).name for entry in job.entries] == ["other.png"]


def _lines_as_before(backend: GeminiOptions, paths: list[Path]) -> bytes:
    """A job's JSONL as the driver built it in memory before it streamed it: one string of every line."""
    from google.genai import _common
    from google.genai.batches import _InlinedRequest_to_mldev

    client = GeminiBatchClient(backend)
    config = generation_config(backend)
    lines = []
    for index, path in enumerate(paths):
        payload = read_path(path, index, max_bytes=10_000_000)
        image = open_image(payload, max_pixels=10_000_000)
        request = build_request(backend, image, None, payload.sha256, config)
        wire = _InlinedRequest_to_mldev(client._client._api_client, request.inlined)
        wire = _common.encode_unserializable_types(_common.convert_to_dict(wire))
        lines.append(json.dumps({"key": request.key, "request": wire["request"]}))
    client.close()
    return ("\n".join(lines) + "\n").encode()


def test_a_file_jobs_jsonl_is_streamed_through_a_temporary_file_with_the_same_content(
    server: FakeGeminiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _images(tmp_path / "in", 6)
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    server.batches.configure(FakeBatchOptions())
    files_before = set(server.batches.files)
    jobs_before = len(server.batches.jobs)
    uploads: list[object] = []  # what the driver handed to the upload: a file on disk, not a list
    upload = GeminiBatchClient._upload

    def spy(self: GeminiBatchClient, requests: object, display_name: str) -> str:
        uploads.append(requests.read_bytes() if isinstance(requests, Path) else requests)
        return upload(self, requests, display_name)  # type: ignore[arg-type]

    monkeypatch.setattr(GeminiBatchClient, "_upload", spy)
    backend = _backend(server)
    api = FAST.model_copy(update={"inline_limit_bytes": 20_000})  # past 20 kB: a file
    options = BatchOptions(input=str(tmp_path / "in"), output=str(tmp_path / "out"))
    assert run_batch_api(options, api, backend).successful_images == 6
    (job,) = list(server.batches.jobs.values())[jobs_before:]
    assert job.from_file and len(job.lines) == 6
    (uploaded,) = [
        data
        for name, data in server.batches.files.items()
        if name not in files_before and name != job.responses_file
    ]
    assert uploads == [uploaded] == [_lines_as_before(backend, paths)]
    assert list(spool_dir.iterdir()) == []  # the temporary file is gone


def test_a_spool_holds_requests_only_while_they_fit_inline(server: FakeGeminiServer, tmp_path: Path) -> None:
    backend = _backend(server)
    client = GeminiBatchClient(backend)
    config = generation_config(backend)
    requests = []
    for index, path in enumerate(_images(tmp_path / "in", 3)):
        image = open_image(read_path(path, index, max_bytes=10**7), max_pixels=10**7)
        requests.append(build_request(backend, image, None, f"key-{index}", config))
    with JobSpool(client, inline_limit_bytes=requests[0].wire_bytes) as spool:
        spool.add(requests[0])
        assert spool.inline and spool.held == [requests[0]]
        spool.add(requests[1])  # over the limit: both are written out, none is held
        spool.add(requests[2])
        assert not spool.inline and spool.held == [] and spool.path is not None
        path = spool.path
        assert spool._file is not None
        spool._file.flush()
        keys = [json.loads(line)["key"] for line in path.read_text().splitlines()]
        assert keys == ["key-0", "key-1", "key-2"] and "key-1" in spool and len(spool) == 3
    assert not path.exists()
    client.close()
