"""The benchmark: its metrics (pure), and ``python -m bench --quick`` as a smoke test.

The smoke test checks that every scenario runs and the files are written, never
the numbers: timings belong to the benchmark, not to tests on a shared machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bound import barrier_makespan, greedy_makespan
from bench.records import busiest_window, percentile, sustained_ratio

ROOT = Path(__file__).resolve().parents[1]


def test_a_client_that_keeps_the_window_exactly_full_sustains_the_whole_limit() -> None:
    # 3 per 10 s: bursts of 3 at t = 0, 10, 20, 30
    arrivals = [burst * 10.0 + offset for burst in range(4) for offset in (0.0, 0.1, 0.2)]
    assert busiest_window(arrivals, 10.0) == 3
    assert sustained_ratio(arrivals, 3, 10.0) == pytest.approx(1.0)
    slower = [t * 1.25 for t in arrivals]
    assert sustained_ratio(slower, 3, 10.0) == pytest.approx(0.8)


def test_a_run_within_one_window_has_no_sustained_rate() -> None:
    assert sustained_ratio([0.0, 1.0, 2.0], 5, 10.0) is None


def test_greedy_makespan_hands_each_job_to_the_first_free_slot() -> None:
    assert greedy_makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert greedy_makespan([1.0] * 10, 5) == 2.0
    assert greedy_makespan([2.0, 2.0, 2.0], 1) == 6.0


def test_the_batch_barrier_waits_for_the_slowest_image_of_each_batch_and_pauses_between() -> None:
    assert barrier_makespan([3.0, 1.0, 1.0, 1.0], 2, 0.1) == pytest.approx(3.0 + 0.1 + 1.0)


def test_percentiles() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5, abs=1)
    assert percentile(values, 95) == pytest.approx(95, abs=1)
    assert percentile([], 50) == 0.0


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.ocr
def test_the_quick_benchmark_runs_every_scenario_and_writes_its_files(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(  # the timeout guards against a hang: at a load of 20-28 the run took over 6 min
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    records = report["records"]
    assert {r["scenario"] for r in records} == {"throughput", "rate_limit", "ocr"}
    assert {"pipeline", "pipeline-cold", "asyncio", "batch-barrier"} <= {r["contender"] for r in records}
    assert report["summary"]["targets"], "the targets were checked"
    table = (tmp_path / "bench.md").read_text()
    for section in ("## Targets", "## Throughput", "## Under an RPM limit", "## Local OCR"):
        assert section in table
    assert (tmp_path / "speedup.png").read_bytes().startswith(b"\x89PNG")
