"""Runs small jobs on a Ray of its own whose metrics are exported on a known port, then waits.

Used by tests/test_metrics.py: prints READY once the jobs are done and keeps
Ray (and so its metrics endpoint) up until its standard input closes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def main(port: int) -> None:
    import ray

    from pipeline.backends.base import ScriptedOptions
    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.batch import BatchOptions
    from pipeline.batch_api import BatchApiOptions, run_batch_api
    from pipeline.cache import ResultCache
    from pipeline.images import read_bytes
    from pipeline.parse import run_parse
    from pipeline.ratelimit import RateLimitOptions
    from pipeline.runner import PoolOptions
    from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer
    from pipeline.testing.scripted import make_scripted_png
    from pipeline.worker import WorkerOptions

    scratch = tempfile.mkdtemp(prefix="karaoke-metrics-")
    ray.init(
        address="local",
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        _metrics_export_port=port,
        _temp_dir=scratch,
    )
    pool, workers = PoolOptions(workers=2, image_timeout_s=30), WorkerOptions(num_cpus=0.1)
    scripted = [make_scripted_png(venue=f"Bar {n}") for n in range(3)] + [make_scripted_png("fail:blocked")]
    run_parse(
        [read_bytes(png, n, max_bytes=10**6) for n, png in enumerate(scripted)],
        ScriptedOptions(),
        pool_options=pool,
        worker_options=workers,
    )
    with FakeGeminiServer(FakeGeminiOptions(extract="echo", script=("http_429",), retry_delay_s=0.2)) as fake:
        gemini = GeminiOptions(api_key="k", base_url=fake.base_url, model="metrics-model")  # type: ignore[arg-type]
        limits = RateLimitOptions(model="metrics-model", rpm=2, window_s=2.0)
        cache = ResultCache(Path(scratch) / "cache.sqlite3")
        pngs = [read_bytes(make_scripted_png(venue=f"Gemini Bar {n}"), n, max_bytes=10**6) for n in range(3)]
        for _ in range(2):  # the second run is answered by the cache
            run_parse(pngs, gemini, pool_options=pool, worker_options=workers, rate_limit=limits, cache=cache)
        shots = Path(scratch) / "shots"  # a Batch API run: its jobs pass through the batch_api gauges
        shots.mkdir()
        for n in range(2):
            (shots / f"shot-{n}.png").write_bytes(make_scripted_png(venue=f"Batch Bar {n}"))
        batch = BatchOptions(input=str(shots), output=str(Path(scratch) / "batch-out"))
        run_batch_api(batch, BatchApiOptions(poll_initial_s=0.05, poll_max_s=0.2), gemini)
    print("READY", flush=True)
    sys.stdin.read()
    ray.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]))
