"""A fleet that follows the load, over time (issue 22): idle, a burst of images, idle again.

``python -m bench.autoscale [--burst 40] [--rps 4] [--latency-ms 500] [--idle-s 3] [--pinned]``:
one fake Gemini in a process of its own (``--latency-ms`` a request; it refuses more than
2 x ``--rps`` requests a second: room for the clocks' skew), one budget of ``--rps`` requests
per 1 s window, and one fleet bounded 1..5 that starts at one worker. After 2 s idle, one run
of ``--burst`` images (up to 5 workers, the compatible endpoints' per-request limit) is sent;
then the fleet is left idle until it is back at one worker. ``--pinned``: the same on a fleet
pinned at 5. Prints the fleet's size, leased workers, images waiting for a worker and images
done whenever one changes, and the useful size the policy computed (requests per second x
the observed time a worker is held per request). Run under ``loopback-only``.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass

from bench.config import BENCH_KEY
from bench.server import ServerProcess
from pipeline.autoscale import FleetLoad, FleetScaling, ScalingPolicy
from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import run_on_fleet
from pipeline.pool import start_fleet
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import BatchProgress, ParseResponse
from pipeline.session import ray_runtime
from pipeline.testing.fake_gemini import FakeGeminiOptions
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

WINDOW_S = 1.0
MAX_WORKERS = 5


@dataclass(frozen=True)
class Row:
    at_s: float
    size: int
    leased: int
    waiting: int
    done: int

    def changed(self, other: Row | None) -> bool:
        return other is None or (self.size, self.leased, self.waiting, self.done) != (
            other.size,
            other.leased,
            other.waiting,
            other.done,
        )


def _images(count: int) -> list[ImagePayload]:
    stamp = time.time()
    return [
        read_bytes(make_scripted_png(venue=f"Burst {stamp} {n}"), n, max_bytes=10**6) for n in range(count)
    ]


def _watch(fleet: WorkerFleet, started: float, done: list[int], stop: threading.Event) -> list[Row]:
    """Rows of the fleet's state, one each time it changes (sampled every 0.1 s)."""
    rows: list[Row] = []
    while not stop.wait(0.1):
        load, _ = fleet.load()
        row = Row(time.monotonic() - started, load.workers, load.leased, load.queued, done[0])
        if row.changed(rows[-1] if rows else None):
            rows.append(row)
            print(
                f"t={row.at_s:5.1f}s  fleet {row.size}  leased {row.leased}  "
                f"waiting for a worker {row.waiting:2d}  done {row.done}",
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.autoscale", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=40, help="images in the burst (default 40)")
    parser.add_argument("--rps", type=int, default=4, help="the budget's requests per second (default 4)")
    parser.add_argument("--latency-ms", type=float, default=500, help="the fake's median latency (500)")
    parser.add_argument("--idle-s", type=float, default=3.0, help="a worker idle this long goes (3 s)")
    parser.add_argument("--pinned", action="store_true", help="a pinned fleet of 5, to compare")
    args = parser.parse_args(argv)
    server_options = FakeGeminiOptions(
        extract="echo", latency_median_ms=args.latency_ms, rpm=2 * args.rps, rate_window_s=WINDOW_S
    )
    with ServerProcess(server_options) as server, ray_runtime():
        backend = GeminiOptions(api_key=BENCH_KEY, base_url=server.base_url, model="autoscale-bench")
        limits = RateLimitOptions(
            model="autoscale-bench", key_fingerprint="bench", rpm=args.rps, window_s=WINDOW_S
        )
        scaling = FleetScaling(min_workers=1, max_workers=MAX_WORKERS, idle_s=args.idle_s)
        if args.pinned:
            scaling = FleetScaling.pinned(MAX_WORKERS)
        fleet = start_fleet(
            backend, WorkerOptions(num_cpus=0.1), scaling.min_workers, limits, scaling=scaling
        )
        try:
            fleet.wait_ready(fleet.actors, 120)
            _burst(fleet, args)
        finally:
            fleet.close()
    return 0


def _burst(fleet: WorkerFleet, args: argparse.Namespace) -> None:
    done, stop, started = [0], threading.Event(), time.monotonic()
    rows: list[Row] = []
    watcher = threading.Thread(target=lambda: rows.extend(_watch(fleet, started, done, stop)), daemon=True)
    watcher.start()
    time.sleep(2.0)  # idle first: the fleet stays at its minimum

    def progress(snapshot: BatchProgress) -> None:
        done[0] = snapshot.processed_images

    print(f"t={time.monotonic() - started:5.1f}s  a burst of {args.burst} images", flush=True)
    response: ParseResponse = run_on_fleet(
        fleet, _images(args.burst), PoolOptions(workers=MAX_WORKERS, image_timeout_s=30), on_progress=progress
    )
    burst_s = time.monotonic() - started
    rate = args.burst / (burst_s - 2.0)
    load, _ = fleet.load()
    print(f"t={burst_s:5.1f}s  burst done; idle until the fleet is back at its minimum", flush=True)
    deadline = time.monotonic() + (120 if not fleet.scaling.is_pinned else args.idle_s + 1)
    while fleet.size > fleet.scaling.min_workers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    stop.set()
    watcher.join()
    timed = FleetLoad(0, 0, 0, latency_s=load.latency_s, requests_per_s=args.rps / WINDOW_S)
    useful = ScalingPolicy(fleet.scaling).useful_size(timed)
    stats = response.stats
    print(
        f"summary: {stats.total_images} images in {burst_s - 2.0:.1f} s ({rate:.1f}/s, budget {args.rps}/s), "
        f"{stats.failed_images} failed, {stats.retries} retries, "
        f"maxConcurrentWorkers {stats.max_concurrent_workers}; peak fleet {max(r.size for r in rows)} of "
        f"{fleet.scaling.max_workers}; useful size {useful} = {args.rps} requests/s x "
        f"{load.latency_s or 0:.2f} s observed latency; back to {rows[-1].size} worker(s) at "
        f"t={rows[-1].at_s:.1f}s (idle threshold {args.idle_s:g} s)",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
