"""Two replicas on two nodes (``ray.cluster_utils.Cluster``), in a driver process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "drivers" / "serve_cluster_driver.py"
pytestmark = [pytest.mark.cluster, pytest.mark.serve, pytest.mark.slow]


def test_a_job_on_one_node_is_read_and_cancelled_through_the_replica_on_the_other(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, str(DRIVER), "--report", str(report), "--data-dir", str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["nodes"] == 2 and len(result["replicas"]) == 2
    assert result["read_by"] != result["created_by"] and result["cancelled_by"] != result["created_by"]
    assert result["read_status"] in ("queued", "running") and result["read_total"] == 6
    assert result["final_status"] == "cancelled", "cancelled, not run to the end"
    print(f"\ncancelled through the other replica {result['cancel_s']} s after DELETE")
