"""The load benchmarks (`bench.serve_load --quick`, a short `bench.health_load`) run and write results.

Checks the run and the shape of what it writes, never the numbers: timings belong to
the benchmark, not to tests on a shared machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.serve
@pytest.mark.slow
def test_the_quick_load_benchmark_serves_every_image_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "serve_load.json"
    command = [sys.executable, "-m", "bench.serve_load", "--quick", "--out", str(out)]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert result["replicas"] == 1 and result["workers"] == 5 and result["clients"] == 4
    assert result["images"] == result["images_sent"] == sum(result["image_statuses"].values())
    assert result["statuses"] == {"200": 4} and set(result["image_statuses"]) == {"ok"}
    assert result["images_per_s"] > 0 and result["p95_request_s"] >= result["p50_request_s"] > 0
    assert "images/s (ideal" in done.stdout


@pytest.mark.serve
@pytest.mark.slow
def test_the_health_benchmark_probes_while_uploads_complete_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "health_load.json"
    command = [sys.executable, "-m", "bench.health_load", "--streams", "1", "--probes", "30", "--mb", "3"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(
        [*command, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert result["streams"] == 1 and result["upload_mb"] == 3 and result["probes"] >= 30
    assert result["uploads_completed"] >= 1 and result["upload_statuses"] == [200]
    assert result["max_ms"] >= result["p99_ms"] >= result["p50_ms"] > 0
    assert "/healthz p50" in done.stdout
