"""What a killed driver leaves of its local Ray is found by session (open files, cwd) and cleaned up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline.ray_sessions import RaySession, session_processes, sessions_dir, sweep
from pipeline.testing.scripted import make_scripted_png

ROOT = Path(__file__).resolve().parents[1]


def wait_until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.1)


def test_a_process_is_found_by_a_file_it_holds_open_under_the_temp_dir(tmp_path: Path) -> None:
    session = tmp_path / "karaoke-ray-x" / "session_1" / "logs"
    session.mkdir(parents=True)
    # `exec -a` gives it a command line that names no directory, as Ray's agents have
    holder = subprocess.Popen(
        ["bash", "-c", f"exec -a ray::DashboardAgent sleep 600 3>>{session}/agent.log"],
    )
    try:
        wait_until(lambda: holder.pid in session_processes(str(tmp_path / "karaoke-ray-x")), 10, "found")
        assert holder.pid not in session_processes(str(tmp_path / "karaoke-ray-y"))
        (sessions_dir(tmp_path / "data")).mkdir(parents=True)
        gone = RaySession(pid=2**22 + 1, pid_started=1, temp_dir=str(tmp_path / "karaoke-ray-x"))
        (sessions_dir(tmp_path / "data") / "1.json").write_text(gone.model_dump_json())
        assert [record.pid for record in sweep(tmp_path / "data")] == [gone.pid]
        assert holder.wait(timeout=10) == -signal.SIGKILL
        assert not (tmp_path / "karaoke-ray-x").exists() and not list(
            sessions_dir(tmp_path / "data").iterdir()
        )
    finally:
        holder.kill()


@pytest.mark.ray
@pytest.mark.slow
def test_after_a_killed_batch_driver_the_next_command_stops_its_ray_and_removes_its_temp_dir(
    tmp_path: Path,
) -> None:
    images = tmp_path / "in"
    images.mkdir()
    for n in range(20):
        (images / f"{n:02d}.png").write_bytes(make_scripted_png(script="sleep:1", venue=f"Bar {n}"))
    scratch = Path(tempfile.mkdtemp(prefix="kt-", dir="/tmp"))  # short: Ray's socket paths must fit
    env = {**os.environ, "TMPDIR": str(scratch), "KARAOKE_DATA_DIR": str(tmp_path / "data")}
    env.pop("RAY_ADDRESS", None)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline.cli", "batch", str(images), "--output", str(out)]
    driver = subprocess.Popen(
        [*command, "--backend", "scripted", "--workers", "1", "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: any(out.glob("results-*.jsonl")), 180, "the batch wrote its first result")
        (temp_dir,) = scratch.glob("karaoke-ray-*")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        left = session_processes(str(temp_dir))
        status = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "status"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "cleaned up the local Ray of a driver that died" in status.stderr, status.stderr
        wait_until(lambda: not session_processes(str(temp_dir)), 20, f"{len(left)} Ray processes stopped")
        assert not temp_dir.exists(), "the killed driver's temp dir is removed"
        print(f"{len(left)} Ray processes were left by the killed driver; 0 after `status`")
    finally:
        driver.kill()
        for pid in session_processes(str(scratch)):  # whatever the test itself left
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)
