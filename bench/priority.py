"""Interactive requests beside a bulk run that saturates the shared budget (issue 22, priority).

``python -m bench.priority [--bulk 500] [--requests 20]``: one fake Gemini in a process of its
own (200 ms a request, 60 requests per 6 s window: the free tier's shape, sped up), one budget
of the same limits, and two fleets on one local Ray, as a server and a batch share a cluster:
three workers answer interactive requests of 3 images, five run a bulk job. First the
interactive requests alone (idle), then the same requests while the bulk job holds the budget
full. Prints each phase's latency p50 / p95 / max, their ratio, and the bulk job's images,
failures and wall time. Run under ``loopback-only``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

from bench.config import BENCH_KEY
from bench.records import percentile
from bench.server import ServerProcess
from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import run_on_fleet
from pipeline.pool import start_fleet
from pipeline.ratelimit import Priority, RateLimitOptions
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import ParseResponse
from pipeline.session import ray_runtime
from pipeline.testing.fake_gemini import FakeGeminiOptions
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

RPM, WINDOW_S = 60, 6.0


def _images(count: int, tag: str) -> list[ImagePayload]:
    return [read_bytes(make_scripted_png(venue=f"{tag} {n}"), n, max_bytes=10**6) for n in range(count)]


def _run(fleet: WorkerFleet, items: list[ImagePayload], workers: int, priority: Priority) -> ParseResponse:
    pool = PoolOptions(workers=workers, image_timeout_s=30)
    return run_on_fleet(fleet, items, pool, priority=priority)


def _latencies(
    fleet: WorkerFleet, requests: int, gap_s: float, keep_going: Callable[[], bool]
) -> list[float]:
    """Wall seconds of each interactive request of 3 images, ``gap_s`` apart."""
    seconds = []
    for n in range(requests):
        if not keep_going():
            break
        started = time.monotonic()
        response = _run(fleet, _images(3, f"interactive {n} {time.time()}"), 3, "interactive")
        seconds.append(time.monotonic() - started)
        assert response.stats.failed_images == 0, [r.error for r in response.results if r.error]
        time.sleep(gap_s)
    return seconds


def _line(name: str, seconds: list[float]) -> str:
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    worst = max(seconds)
    return f"{name}: {len(seconds)} requests of 3 images, p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.priority", description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=int, default=500, help="images in the bulk job (default 500)")
    parser.add_argument("--requests", type=int, default=20, help="interactive requests per phase (20)")
    parser.add_argument(
        "--interactive-share", type=float, default=0.2, help="share bulk leaves free (0: none, to compare)"
    )
    args = parser.parse_args(argv)
    server_options = FakeGeminiOptions(extract="echo", latency_median_ms=200, rpm=RPM, rate_window_s=WINDOW_S)
    with ServerProcess(server_options) as server, ray_runtime():
        backend = GeminiOptions(api_key=BENCH_KEY, base_url=server.base_url, model="priority-bench")
        limits = RateLimitOptions(
            model="priority-bench",
            key_fingerprint="bench",
            rpm=RPM,
            window_s=WINDOW_S,
            margin_s=0.3,
            interactive_share=args.interactive_share,
        )
        workers = WorkerOptions(num_cpus=0.1)
        interactive = start_fleet(backend, workers, 3, limits)
        bulk_fleet = start_fleet(backend, workers, 5, limits)
        interactive.wait_ready(interactive.actors, 120)
        bulk_fleet.wait_ready(bulk_fleet.actors, 120)
        idle = _latencies(interactive, args.requests, 1.0, lambda: True)
        print(_line("idle", idle), flush=True)
        bulk: list[ParseResponse] = []
        started = time.monotonic()
        job = threading.Thread(
            target=lambda: bulk.append(_run(bulk_fleet, _images(args.bulk, "bulk"), 5, "bulk"))
        )
        job.start()
        time.sleep(2 * WINDOW_S)  # the bulk job fills the budget first
        busy = _latencies(interactive, args.requests, 1.5, job.is_alive)
        print(_line("beside the bulk job", busy), flush=True)
        job.join()
        wall = time.monotonic() - started
        done = bulk[0]
        print(
            f"bulk job: {done.stats.total_images} images, {done.stats.failed_images} failed, {wall:.1f} s "
            f"(the quota's bound: {args.bulk / RPM * WINDOW_S:.0f} s); interactive p95 beside it / idle: "
            f"{percentile(busy, 95) / percentile(idle, 95):.2f}x",
            flush=True,
        )
        interactive.close()
        bulk_fleet.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
