"""The batch job: shards, resume, crash safety, cloud-style paths, several nodes, flat memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fsspec
import pytest

from pipeline.backends.base import ScriptedOptions
from pipeline.batch import BatchOptions, read_shards, run_batch, write_combined
from pipeline.plan import JobPlan
from pipeline.runner import PoolOptions
from pipeline.schema import ImageResult
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "drivers" / "batch_driver.py"


def make_images(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{n:05d}.png" for n in range(count)]
    for n, path in enumerate(paths):
        path.write_bytes(make_scripted_png(venue=f"Bar {n}"))
    return paths


def plan(log_file: Path | None = None, workers: int = 2) -> JobPlan:
    return JobPlan(
        ScriptedOptions(log_file=str(log_file) if log_file else None),
        PoolOptions(workers=workers),
        WorkerOptions(num_cpus=0.2),
    )


def calls(log_file: Path) -> list[str]:
    return log_file.read_text().splitlines() if log_file.exists() else []


def result_line(source: str, success: bool = True) -> str:
    result = ImageResult(image_index=0, source=source, success=success, status="ok" if success else "failed")
    return json.dumps({"runId": "r", "result": result.to_wire()}) + "\n"


def test_a_line_cut_off_by_a_crash_is_skipped(tmp_path: Path) -> None:
    whole = result_line("a.png") + result_line("b.png")
    (tmp_path / "results-1.jsonl").write_text(whole + result_line("c.png")[:40])
    assert [r.source for r in read_shards(str(tmp_path))] == ["a.png", "b.png"]


def test_a_line_cut_inside_a_multibyte_character_or_invalid_utf8_is_skipped(tmp_path: Path) -> None:
    cafe = result_line("Café.png").encode().replace(b"\\u00e9", "é".encode())  # as pydantic writes it
    cut = cafe[: cafe.index("é".encode()) + 1]  # the first byte of the two-byte é, then the crash
    (tmp_path / "results-1.jsonl").write_bytes(result_line("a.png").encode() + cut)
    (tmp_path / "results-2.jsonl").write_bytes(b"\xff\xfe not utf-8 at all\n" + result_line("b.png").encode())
    assert [r.source for r in read_shards(str(tmp_path))] == ["a.png", "b.png"]
    assert write_combined(str(tmp_path)).successful_images == 2


def test_combined_keeps_a_later_success_over_an_earlier_failure(tmp_path: Path) -> None:
    (tmp_path / "results-1.jsonl").write_text(
        result_line("a.png", success=False) + result_line("b.png", False)
    )
    (tmp_path / "results-2.jsonl").write_text(result_line("a.png"))
    summary = write_combined(str(tmp_path))
    assert (summary.total_images, summary.successful_images, summary.failed_images) == (2, 1, 1)
    failures = (tmp_path / "failures.jsonl").read_text().splitlines()
    assert [json.loads(line)["source"] for line in failures] == ["b.png"]


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_plain_paths_file_uris_and_an_unreadable_entry(tmp_path: Path) -> None:
    images = make_images(tmp_path / "in", 4)
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"{images[0]}\nfile://{images[1]}\n{tmp_path / 'missing.png'}\n{images[2]}\n")
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(input=str(listing), output=str(out)), plan())
    assert (summary.total_images, summary.successful_images) == (4, 3)
    assert summary.failures_by_code == {"not_an_image": 1}
    assert [s.venue_name for s in summary.data.shows] == ["Bar 0", "Bar 1", "Bar 2"]
    combined = json.loads((out / "combined.json").read_text())
    assert combined["successfulImages"] == 3
    failed = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["source"] for f in failed] == [str(tmp_path / "missing.png")]


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_resume_skips_successes_and_retry_failed_retries_failures(tmp_path: Path) -> None:
    images = make_images(tmp_path / "in", 5)
    listing = tmp_path / "inputs.txt"
    late = tmp_path / "late.png"
    listing.write_text("\n".join(map(str, [*images, late])) + "\n")
    out, log = tmp_path / "out", tmp_path / "calls.log"
    run_batch(BatchOptions(input=str(listing), output=str(out)), plan(log))
    assert len(calls(log)) == 5
    resumed = run_batch(BatchOptions(input=str(listing), output=str(out), resume=True), plan(log))
    assert len(calls(log)) == 5, "nothing was sent to the backend again"
    assert resumed.failed_images == 1
    late.write_bytes(make_scripted_png(venue="Late Bar"))
    retried = run_batch(
        BatchOptions(input=str(listing), output=str(out), resume=True, retry_failed=True), plan(log)
    )
    assert calls(log)[5:] == ["Late Bar"]
    assert (retried.total_images, retried.successful_images, retried.failed_images) == (6, 6, 0)
    successes = [r.source for r in read_shards(str(out)) if r.success]
    assert sorted(successes) == sorted(map(str, [*images, late])), "every image written once"


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_output_to_an_object_store_is_written_in_whole_shards(tmp_path: Path) -> None:
    make_images(tmp_path / "in", 5)
    summary = run_batch(
        BatchOptions(input=str(tmp_path / "in"), output="memory://bucket/run", shard_size=2), plan()
    )
    fs = fsspec.filesystem("memory")
    assert summary.successful_images == 5
    assert len(summary.shards) == 3  # 2 + 2 + 1
    assert json.loads(fs.cat("/bucket/run/combined.json"))["totalImages"] == 5


@pytest.mark.ray
def test_cli_batch_runs_and_resumes(tmp_path: Path) -> None:
    make_images(tmp_path / "in", 3)
    (tmp_path / "in" / "phone.heic").write_bytes(b"not listed: HEIC is not an image type here")
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "batch",
        str(tmp_path / "in"),
        "--output",
        str(tmp_path / "out"),
    ]
    first = subprocess.run([*command, "--backend", "scripted"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "3/3 images succeeded" in first.stderr
    assert "skipped 1: 1 .heic" in first.stderr, "the listing says what it passed over"
    again = subprocess.run(
        [*command, "--backend", "scripted", "--resume"], capture_output=True, text=True, timeout=300
    )
    assert "0 done, 0 failed, 0 cached, 3 skipped" in again.stderr


def run_driver(*args: str, timeout: float = 300) -> dict[str, object]:
    report = Path(args[args.index("--output") + 1]).with_suffix(".report.json")
    done = subprocess.run(
        [sys.executable, str(DRIVER), *args, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(report.read_text())  # type: ignore[no-any-return]


def shard_lines(out: Path) -> int:
    return sum(len(path.read_text().splitlines()) for path in out.glob("results-*.jsonl"))


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("unwritable", ["under-a-file", "/proc/karaoke-out"])
def test_an_unwritable_output_is_a_usage_error_before_any_image(tmp_path: Path, unwritable: str) -> None:
    make_images(tmp_path / "in", 2)
    log_file = tmp_path / "calls.log"
    output = str(tmp_path / "a-file" / "out") if unwritable == "under-a-file" else unwritable
    (tmp_path / "a-file").write_text("not a directory")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "pipeline.cli", "batch", str(tmp_path / "in"), "--output", output]
    done = subprocess.run(
        [*command, "--backend", "scripted"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 2, done.stderr
    assert "cannot write to --output" in done.stderr and "Traceback" not in done.stderr
    assert calls(log_file) == [] and not list(tmp_path.glob("karaoke-ray-*")), "nothing started"


@pytest.mark.ray
def test_a_run_leaves_no_ray_temp_dir_behind(tmp_path: Path) -> None:
    make_images(tmp_path / "in", 2)
    scratch = Path(tempfile.mkdtemp(prefix="kt-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "TMPDIR": str(scratch)}
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "batch",
        str(tmp_path / "in"),
        "--output",
        str(tmp_path / "o"),
    ]
    done = subprocess.run(
        [*command, "--backend", "scripted"], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert list(scratch.glob("karaoke-ray-*")) == []
    scratch.rmdir()


@pytest.mark.ray  # the driver it kills starts a local Ray of its own
def test_a_driver_killed_mid_batch_resumes_without_redoing_finished_images(tmp_path: Path) -> None:
    images = make_images(tmp_path / "in", 30)
    out, log = tmp_path / "out", tmp_path / "calls.log"
    args = ["--input", str(tmp_path / "in"), "--output", str(out), "--workers", "2", "--log-file", str(log)]
    driver = subprocess.Popen(
        [sys.executable, str(DRIVER), *args, "--delay", "0.3", "--report", str(tmp_path / "r.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while shard_lines(out) < 8 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.1)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    finished_before = {r.source for r in read_shards(str(out)) if r.success}
    assert 8 <= len(finished_before) < 30, "killed part-way"
    calls_before = len(calls(log))
    report = run_driver(*args, "--resume")
    assert report["total"] == report["succeeded"] == 30
    successes = [r.source for r in read_shards(str(out)) if r.success]
    assert sorted(successes) == sorted(map(str, images)), "every image exactly once"
    redone = {f"Bar {int(Path(s).stem)}" for s in finished_before} & set(calls(log)[calls_before:])
    assert not redone, f"finished images were sent to the backend again: {redone}"


@pytest.mark.ray
@pytest.mark.cluster
@pytest.mark.slow
def test_three_nodes_spread_the_workers_and_survive_losing_one(tmp_path: Path) -> None:
    make_images(tmp_path / "in", 40)
    report = run_driver(
        "--input",
        str(tmp_path / "in"),
        "--output",
        str(tmp_path / "out"),
        "--workers",
        "3",
        "--num-cpus",
        "0.5",
        "--delay",
        "0.2",
        "--nodes",
        "2",
        "--remove-node-after",
        "10",
    )
    assert len(report["nodes_with_workers"]) == 3  # type: ignore[arg-type]
    assert report["removed_at"] is not None
    assert report["total"] == report["succeeded"] == 40
    successes = [r.source for r in read_shards(str(tmp_path / "out")) if r.success]
    assert len(successes) == len(set(successes)) == 40, "exactly one result per image"


@pytest.mark.ray
@pytest.mark.slow
def test_driver_memory_stays_flat_from_500_to_4000_images(tmp_path: Path) -> None:
    make_images(tmp_path / "in", 4000)
    small = tmp_path / "small.txt"
    small.write_text("\n".join(str(p) for p in sorted((tmp_path / "in").iterdir())[:500]) + "\n")
    args = ("--workers", "5", "--num-cpus", "0.2")
    few = run_driver("--input", str(small), "--output", str(tmp_path / "out500"), *args)
    many = run_driver("--input", str(tmp_path / "in"), "--output", str(tmp_path / "out4000"), *args)
    assert (few["succeeded"], many["succeeded"]) == (500, 4000)
    ratio = many["peak_rss_kb"] / few["peak_rss_kb"]  # type: ignore[operator]
    print(
        f"driver peak RSS: 500 images {few['peak_rss_kb']} kB, "
        f"4000 images {many['peak_rss_kb']} kB, ratio {ratio:.3f}"
    )
    assert ratio <= 1.2


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_an_output_that_fails_mid_run_is_one_line_exit_2_and_resume_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from pipeline.batch import ShardWriter
    from pipeline.cli import EXIT_OK, EXIT_USAGE, main

    images = make_images(tmp_path / "in", 6)
    out = tmp_path / "out"
    append = ShardWriter._append
    written: list[str] = []

    def fails_after_three(writer: ShardWriter, line: str) -> None:  # as a folder chmod-ed mid-run does
        if len(written) == 3:
            raise PermissionError(errno.EACCES, "Permission denied", writer.path)
        append(writer, line)
        written.append(line)

    monkeypatch.setattr(ShardWriter, "_append", fails_after_three)
    command = ["batch", str(tmp_path / "in"), "--output", str(out), "--backend", "scripted", "--no-progress"]
    assert main(command) == EXIT_USAGE
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: cannot write ") and str(out) in lines[0] and "--resume" in lines[0]
    assert "Permission denied" in lines[0]
    monkeypatch.setattr(ShardWriter, "_append", append)
    assert main([*command, "--resume"]) == EXIT_OK
    successes = [r.source for r in read_shards(str(out)) if r.success]
    assert sorted(successes) == sorted(map(str, images)), "every image exactly once, none lost"
