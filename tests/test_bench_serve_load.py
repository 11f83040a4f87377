"""``python -m bench.serve_load --quick``: the load benchmark runs end to end and writes its file.

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
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert result["replicas"] == 1 and result["workers"] == 5 and result["clients"] == 4
    assert result["images"] == result["images_sent"] == sum(result["image_statuses"].values())
    assert result["statuses"] == {"200": 4} and set(result["image_statuses"]) == {"ok"}
    assert result["images_per_s"] > 0 and result["p95_request_s"] >= result["p50_request_s"] > 0
    assert "images/s (ideal" in done.stdout
