"""Two Serve replicas on two nodes of a ``ray.cluster_utils.Cluster``: jobs cross between them.

Run by ``tests/test_serve_cluster.py`` in a process of its own (a Cluster cannot share a
process with the test session's Ray). Writes a JSON report of what each replica answered.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Serve's proxy prefers replicas on its own node; the test needs requests to reach both nodes
# (the nodes' processes inherit this environment from the Cluster started here).
os.environ["RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING"] = "0"
os.environ["RAY_SERVE_PROXY_PREFER_LOCAL_AZ_ROUTING"] = "0"
JOBS = "/api/parser/jobs"
REPLICA = "x-karaoke-replica"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def until(condition: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def start_cluster(temp_dir: str) -> Any:
    import ray
    from ray.cluster_utils import Cluster

    os.environ["RAY_TMPDIR"] = temp_dir
    os.makedirs(os.path.join(temp_dir, "ray"), exist_ok=True)
    node_args = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True, head_node_args={**node_args, "include_dashboard": False, "temp_dir": temp_dir}
    )
    cluster.add_node(**node_args)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    return cluster


def shots(count: int, script: str) -> list[str]:
    from pipeline.testing.scripted import make_scripted_png

    pngs = [make_scripted_png(script, venue=f"Bar {n}") for n in range(count)]
    return ["data:image/png;base64," + base64.b64encode(png).decode() for png in pngs]


def exercise(url: str) -> dict[str, Any]:
    """Create a job through one replica; read and cancel it through the other."""
    ready: set[str] = set()
    last: dict[str, Any] = {}

    def both_ready() -> bool:
        response = httpx.get(f"{url}/readyz", timeout=10)
        last[response.headers.get(REPLICA, "?")] = response.text
        if response.status_code == 200:
            ready.add(response.headers[REPLICA])
        return len(ready) >= 2

    try:
        until(both_ready, 150, "both replicas ready")
    except TimeoutError:
        from ray import serve

        status = serve.status().applications["pair"].deployments["ParserService"]
        raise TimeoutError(
            f"both replicas ready; last answers: {last}; Serve: {status.status} {status.replica_states} "
            f"{status.message[:2000]}"
        ) from None
    report: dict[str, Any] = {"replicas": sorted(ready)}
    for _attempt in range(30):
        created = httpx.post(
            f"{url}{JOBS}", json={"screenshots": shots(6, "sleep:2.0"), "maxConcurrentWorkers": 1}
        )
        found = cross_replica(url, created.json()["jobId"], created.headers[REPLICA])
        if found is not None:
            report.update(found)
            return report
    raise AssertionError("DELETE never reached the other replica in 30 tries")


def cross_replica(url: str, job_id: str, creator: str) -> dict[str, Any] | None:
    """Read and cancel a job through the replica that did not create it; None if routing
    sent the DELETE to the creator itself."""
    job_url = f"{url}{JOBS}/{job_id}"

    def read_elsewhere() -> httpx.Response | None:
        response = httpx.get(job_url, timeout=10)
        return response if response.headers[REPLICA] != creator else None

    read = until(read_elsewhere, 30, "a GET answered by the other replica")
    cancelled = httpx.delete(job_url, timeout=10)
    if cancelled.headers[REPLICA] == creator:
        return None
    asked = time.monotonic()
    final = until(
        lambda: (body := httpx.get(job_url).json())["status"] == "cancelled" and body, 60, "cancelled"
    )
    return {
        "created_by": creator,
        "read_by": read.headers[REPLICA],
        "read_status": read.json()["status"],
        "read_total": read.json()["progress"]["totalImages"],
        "cancelled_by": cancelled.headers[REPLICA],
        "final_status": final["status"],
        "cancel_s": round(time.monotonic() - asked, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    import ray
    from ray import serve

    from pipeline.backends.base import ScriptedOptions
    from serve.app import FrontDeployment, ParserDeployment
    from serve.cli import start_serve
    from serve.options import ServeOptions

    temp_dir = tempfile.mkdtemp(prefix="kr-")  # short: Ray's socket paths must stay under 108 bytes
    cluster = start_cluster(temp_dir)
    port = free_port()
    try:
        failure = start_serve("127.0.0.1", port, proxy_location="HeadOnly")  # retried on a busy machine
        if failure is not None:
            raise RuntimeError(failure)
        options = ServeOptions(
            backend=ScriptedOptions(),
            fleet_size=2,
            worker_num_cpus=0.1,
            replica_num_cpus=0.1,
            replicas=2,
            rate_limit_per_minute=0,
            data_dir=Path(args.data_dir) / "data",
        )
        deployment = ParserDeployment.options(
            num_replicas=2, max_replicas_per_node=1, ray_actor_options={"num_cpus": 0.1}
        )
        application = FrontDeployment.bind(options, deployment.bind(options))
        serve.run(application, name="pair", route_prefix="/", blocking=False)
        report = exercise(f"http://127.0.0.1:{port}")
        report["nodes"] = sum(1 for node in ray.nodes() if node["Alive"])
        Path(args.report).write_text(json.dumps(report))
    finally:
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
