"""``up`` / ``down`` / ``status``: a local Ray and a warm fleet kept between commands, as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.runtime import read_state
from pipeline.schema import ParseResponse
from pipeline.testing.scripted import make_scripted_png

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_up_then_parse_attaches_to_the_warm_fleet_then_down(tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    for n in range(4):
        (images / f"{n}.png").write_bytes(make_scripted_png(venue=f"Warm Bar {n}"))
    env = {**os.environ, "KARAOKE_DATA_DIR": str(tmp_path / "data")}
    env.pop("RAY_ADDRESS", None)
    up = cli(env, "up", "--backend", "scripted")
    try:
        assert up.returncode == 0, up.stderr
        state = read_state(tmp_path / "data")
        assert state is not None and state.backend == "scripted"
        status = cli(env, "status")
        assert f"pid {state.pid}" in status.stdout and "3 warm scripted workers" in status.stdout
        parsed = cli(env, "parse", str(images), "--backend", "scripted", "--no-progress")
        assert parsed.returncode == 0, parsed.stderr
        response = ParseResponse.model_validate_json(parsed.stdout)
        assert response.stats.successful_images == 4
        assert {r.worker for r in response.results} <= {f"{state.fleet}-{n}" for n in (1, 2, 3)}, (
            "the warm workers did the work"
        )
        again = cli(env, "parse", str(images), "--backend", "scripted", "--no-progress")
        assert again.returncode == 0, again.stderr
        assert read_state(tmp_path / "data") is not None, "a parse leaves the runtime running"
    finally:
        down = cli(env, "down")
    assert down.returncode == 0 and "stopped the runtime" in down.stderr
    assert "no runtime running" in cli(env, "status").stdout


def test_a_crashed_runtime_is_noticed_and_never_waited_on(tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    (images / "a.png").write_bytes(make_scripted_png(venue="Lone Bar"))
    env = {**os.environ, "KARAOKE_DATA_DIR": str(tmp_path / "data")}
    env.pop("RAY_ADDRESS", None)
    up = cli(env, "up", "--backend", "scripted", "--workers", "1")
    assert up.returncode == 0, up.stderr
    state = read_state(tmp_path / "data")
    assert state is not None
    os.kill(state.pid, signal.SIGKILL)  # the daemon dies; its Ray goes with it or is left orphaned
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(state.pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    parsed = cli(env, "parse", str(images), "--backend", "scripted", "--no-progress")
    assert parsed.returncode == 0, parsed.stderr
    assert "is gone" in parsed.stderr
    assert ParseResponse.model_validate_json(parsed.stdout).stats.successful_images == 1
    assert read_state(tmp_path / "data") is None, "the stale state was removed"


def daemons_of(data_dir: Path) -> list[int]:
    """The live `up` daemons serving ``data_dir`` (found by their command line: they are ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pipeline.runtime" in command and str(data_dir.resolve()).encode() in command:
            found.append(int(entry.name))
    return found


def test_two_ups_at_once_start_one_runtime_that_status_and_down_see(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "KARAOKE_DATA_DIR": str(data)}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "pipeline.cli", "up", "--backend", "scripted", "--workers", "1"]
    ups = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outcomes = sorted((up.wait(timeout=300), up.communicate()[1]) for up in ups)
        assert [code for code, _ in outcomes] == [0, 2], outcomes
        assert "already runs" in outcomes[1][1] or "is starting" in outcomes[1][1], outcomes[1][1]
        running = daemons_of(data)
        state = read_state(data)
        assert state is not None and running == [state.pid], (
            f"one daemon, the one state.json names: {running}"
        )
        assert f"pid {state.pid}" in cli(env, "status").stdout
    finally:
        down = cli(env, "down")
    assert down.returncode == 0 and "stopped the runtime" in down.stderr
    deadline = time.monotonic() + 60
    while daemons_of(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert daemons_of(data) == [], "down stopped every runtime of the data dir"
    assert "no runtime running" in cli(env, "status").stdout
