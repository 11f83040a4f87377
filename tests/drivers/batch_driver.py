"""A batch driver for tests that need a process of their own: crash, multi-node, memory.

Runs ``pipeline.batch.run_batch`` with the scripted backend (which can log
every call to a file) on a local Ray or on a ``ray.cluster_utils.Cluster`` of
several nodes, and writes a JSON report (peak RSS, worker nodes, timings).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--num-cpus", type=float, default=0.2, help="per worker actor")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log-file")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--nodes", type=int, default=0, help="worker nodes beside the head (0: plain local Ray)"
    )
    parser.add_argument("--remove-node-after", type=int, help="remove a worker node after N results")
    return parser.parse_args()


def start_ray(args: argparse.Namespace, temp_dir: str) -> Any:
    import ray

    if not args.nodes:
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp_dir)
        return None
    from ray.cluster_utils import Cluster

    os.environ["RAY_TMPDIR"] = temp_dir  # the Cluster writes its address file under the default temp dir
    os.makedirs(os.path.join(temp_dir, "ray"), exist_ok=True)

    node_args = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True, head_node_args={**node_args, "include_dashboard": False, "temp_dir": temp_dir}
    )
    for _ in range(args.nodes):
        cluster.add_node(**node_args)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    return cluster


def main() -> None:
    import tempfile

    import ray

    from pipeline.backends.base import ScriptedOptions
    from pipeline.batch import BatchCounts, BatchOptions, run_batch
    from pipeline.plan import JobPlan
    from pipeline.runner import PoolOptions, WorkerFleet
    from pipeline.worker import WorkerOptions

    args = parse_args()
    cluster = start_ray(args, tempfile.mkdtemp(prefix="karaoke-batch-"))
    plan = JobPlan(
        ScriptedOptions(delay_s=args.delay, log_file=args.log_file),
        PoolOptions(workers=args.workers, large_pool=True, image_timeout_s=60),
        WorkerOptions(num_cpus=args.num_cpus),
    )
    fleet = WorkerFleet(plan.backend, plan.worker, plan.pool.workers)
    report: dict[str, Any] = {
        "nodes_with_workers": sorted(set(ray.get([actor.node_id.remote() for actor in fleet.actors]))),
        "removed_at": None,
        "removed_after_s": None,
    }
    started = time.monotonic()

    def on_progress(counts: BatchCounts) -> None:
        if (
            args.remove_node_after is not None
            and counts.done >= args.remove_node_after
            and report["removed_at"] is None
        ):
            report["removed_at"] = counts.done
            report["removed_after_s"] = time.monotonic() - started
            cluster.remove_node(next(iter(cluster.worker_nodes)))

    options = BatchOptions(input=args.input, output=args.output, resume=args.resume)
    summary = run_batch(options, plan, on_progress, fleet)
    fleet.close()
    report.update(
        wall_s=time.monotonic() - started,
        total=summary.total_images,
        succeeded=summary.successful_images,
        peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    Path(args.report).write_text(json.dumps(report))
    ray.shutdown()
    if cluster is not None:
        cluster.shutdown()


if __name__ == "__main__":
    main()
