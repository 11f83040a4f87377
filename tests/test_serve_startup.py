"""``karaoke-pipeline serve`` as an operator runs it: its own Ray, the default fleet, a busy machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from serve_harness import free_port, wait_for
from test_serve_api import data_url

from pipeline.testing.child import Child
from pipeline.testing.scripted import make_scripted_png

if TYPE_CHECKING:
    from pipeline.testing.fake_gemini import FakeGeminiServer

pytestmark = [pytest.mark.serve, pytest.mark.slow]
START_TIMEOUT_S = 300


class ServeProcess(Child):
    """``python -m pipeline.cli serve`` in a child process, its output collected line by line."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        super().__init__([sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)], env)


def serve_env(server: FakeGeminiServer, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KARAOKE_", "RAY_"))}
    env.update(
        KARAOKE_BACKEND="gemini",
        GEMINI_API_KEY="test-key",
        KARAOKE_GEMINI_BASE_URL=server.base_url,
        KARAOKE_DATA_DIR=str(data_dir),
        RAY_USAGE_STATS_ENABLED="0",
    )
    return env


def test_default_serve_on_two_cores_starts_every_worker_and_answers_in_seconds(
    slow_gemini: FakeGeminiServer, tmp_path: Path
) -> None:
    served = ServeProcess(free_port(), serve_env(slow_gemini, tmp_path))
    seen: list[dict[str, Any]] = []
    try:

        def ready() -> dict[str, Any] | None:
            assert served.process.poll() is None, "\n".join(served.lines)
            try:
                body: dict[str, Any] = httpx.get(f"{served.url}/readyz", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return None
            seen.append(body)
            return body if body["ready"] else None

        readiness = wait_for(ready, START_TIMEOUT_S, "serve ready", every_s=0.2)
        assert readiness["workers"] == readiness["wanted"] == 5, "the default fleet fits 2 cores"
        for body in seen[:-1]:  # ready only once every worker is up
            assert body["ready"] is False and body["workers"] < body["wanted"], body
        images = [data_url(make_scripted_png(venue=f"Venue {n}")) for n in range(10)]
        started = time.monotonic()
        response = httpx.post(
            f"{served.url}/api/parser/analyze-screenshots-parallel",
            json={"screenshots": images, "maxConcurrentWorkers": 5},
            timeout=120,
        )
        took_s = time.monotonic() - started
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        statuses = [result["status"] for result in results]
        print(f"\n10 images on the default fleet: {took_s:.2f} s, statuses {set(statuses)}")
        assert statuses == ["ok"] * 10, "no timeouts"
        assert len({result["worker"] for result in results}) == 5, "every leased worker took images"
    finally:
        served.stop()


def test_serve_beside_two_busy_loops_comes_up_or_says_why_in_one_line(
    slow_gemini: FakeGeminiServer, tmp_path: Path
) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    served = ServeProcess(free_port(), serve_env(slow_gemini, tmp_path))
    try:
        outcome = wait_for(
            lambda: "exited" if served.process.poll() is not None else served.said("karaoke-pipeline API on"),
            START_TIMEOUT_S,
            "serve up or exited",
            every_s=0.5,
        )
        print("\n" + "\n".join(served.lines))
        if outcome == "exited":
            served._reader.join(10)
            assert served.process.returncode == 1
            assert not any("Traceback" in line for line in served.lines)
            assert served.lines[-1].startswith("error: ")
        else:
            assert httpx.get(f"{served.url}/readyz", timeout=10).json()["ready"] is True
            assert served.said("ready: 5 of 5 workers started on each replica")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(10)
        served.stop()
