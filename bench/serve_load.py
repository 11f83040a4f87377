"""Load on the HTTP API: N concurrent clients x 1-5 images against ``karaoke-pipeline serve``.

Starts the fake Gemini (``karaoke-pipeline fake-gemini --extract echo``) with a fixed latency
and ``serve`` with 1, then 2, replicas (each its own process and Ray, the default fleet
sizing), sends the load, and reports measured images/s against the ideal (workers /
latency: every worker busy on an upstream call all the time), and p50/p95 request latency.

    python -m bench.serve_load                       # 20 clients x 3 requests, 1 and 2 replicas
    python -m bench.serve_load --clients 60 --requests 1 --replicas 1   # the issue's 60 at once
    python -m bench.serve_load --quick               # a smoke run (4 clients, 1 replica)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.records import percentile, write_results
from pipeline.testing.child import Child
from pipeline.testing.scripted import make_scripted_png

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "serve_load.json"
START_TIMEOUT_S = 300.0


@dataclass
class LoadResult:
    """One load run against one ``serve`` configuration: measured, never assumed."""

    replicas: int
    workers: int
    clients: int
    requests: int
    images: int
    images_sent: int
    latency_ms: float
    wall_s: float
    images_per_s: float
    ideal_images_per_s: float
    efficiency: float
    p50_request_s: float
    p95_request_s: float
    statuses: dict[str, int] = field(default_factory=dict)
    image_statuses: dict[str, int] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KARAOKE_", "RAY_"))}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def start_fake_gemini(latency_ms: float) -> tuple[Child, str]:
    port = free_port()
    command = [sys.executable, "-m", "pipeline.cli", "fake-gemini", "--port", str(port)]
    child = Child([*command, "--extract", "echo", "--latency-ms", str(latency_ms)], _env(), cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            httpx.get(url, timeout=2)
            return child, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or child.process.poll() is not None:
                child.stop()
                raise RuntimeError("the fake Gemini did not start:\n" + "\n".join(child.lines)) from None
            time.sleep(0.2)


def start_serve(gemini_url: str, replicas: int, data_dir: Path) -> tuple[Child, str, int]:
    """``serve`` with the default sizing; returns it, its URL and its total worker count."""
    port = free_port()
    env = _env(
        KARAOKE_BACKEND="gemini",
        GEMINI_API_KEY="bench-key",
        KARAOKE_GEMINI_BASE_URL=gemini_url,
        KARAOKE_GEMINI_RPM="1000000",  # the fake has no limit: measure the serving, not the budget
        KARAOKE_DATA_DIR=str(data_dir),
        KARAOKE_RATE_LIMIT_PER_MINUTE="0",  # every client is 127.0.0.1: one bucket would throttle them all
    )
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "serve",
        "--port",
        str(port),
        "--replicas",
        str(replicas),
    ]
    child = Child(command, env, cwd=ROOT)
    child.wait_for_line("karaoke-pipeline API on", START_TIMEOUT_S)
    url = f"http://127.0.0.1:{port}"
    wanted = httpx.get(f"{url}/readyz", timeout=10).json()["wanted"]
    return child, url, int(wanted) * replicas


def image_counts(clients: int, requests: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randint(1, 5) for _ in range(requests)] for _ in range(clients)]


def request_body(name: str, images: int) -> dict[str, Any]:
    """A request of ``images`` distinct screenshots (so none is answered from the cache)."""
    shots = [make_scripted_png(venue=f"{name} i{image}") for image in range(images)]
    encoded = ["data:image/png;base64," + base64.b64encode(shot).decode() for shot in shots]
    return {"screenshots": encoded, "maxConcurrentWorkers": 5}


async def run_load(
    url: str, counts: list[list[int]], run: str
) -> tuple[float, list[float], Counter[str], Counter[str]]:
    """Every client sends its requests one after another; all clients at once."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    image_statuses: Counter[str] = Counter()
    target = f"{url}/api/parser/analyze-screenshots-parallel"
    bodies = [
        [request_body(f"{run} c{client} r{request}", count) for request, count in enumerate(per_client)]
        for client, per_client in enumerate(counts)
    ]

    async def client(session: httpx.AsyncClient, requests: list[dict[str, Any]]) -> None:
        for body in requests:
            started = time.perf_counter()
            response = await session.post(target, json=body)
            latencies.append(time.perf_counter() - started)
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                for result in response.json()["results"]:
                    code = result["error"]["code"] if result["error"] else result["status"]
                    image_statuses[code] += 1

    limits = httpx.Limits(max_connections=len(counts) + 5)
    async with httpx.AsyncClient(timeout=600, limits=limits) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, requests) for requests in bodies))
        wall = time.perf_counter() - started
    return wall, latencies, statuses, image_statuses


def measure(
    gemini_url: str, replicas: int, counts: list[list[int]], latency_ms: float, work: Path
) -> LoadResult:
    server, url, workers = start_serve(gemini_url, replicas, work / f"data-{replicas}")
    try:
        asyncio.run(run_load(url, [[1]] * min(workers, 10), f"warm{replicas}"))  # every worker once
        wall, latencies, statuses, image_statuses = asyncio.run(run_load(url, counts, f"run{replicas}"))
    finally:
        server.stop()
    images = sum(image_statuses.values())  # answered, whatever their status; refused requests are not
    ideal = workers / (latency_ms / 1000)
    rate = images / wall
    return LoadResult(
        replicas=replicas,
        workers=workers,
        clients=len(counts),
        requests=sum(map(len, counts)),
        images=images,
        images_sent=sum(map(sum, counts)),
        latency_ms=latency_ms,
        wall_s=round(wall, 3),
        images_per_s=round(rate, 2),
        ideal_images_per_s=round(ideal, 2),
        efficiency=round(rate / ideal, 3),
        p50_request_s=round(percentile(latencies, 50), 3),
        p95_request_s=round(percentile(latencies, 95), 3),
        statuses=dict(statuses),
        image_statuses=dict(image_statuses),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--requests", type=int, default=3, help="requests per client, one after another")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="replica counts to run")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="fake Gemini latency (default 300)")
    parser.add_argument("--seed", type=int, default=12, help="seed of the 1-5 images per request")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 clients x 1 request, 1 replica")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.requests, args.replicas = 4, 1, [1]
    counts = image_counts(args.clients, args.requests, args.seed)
    work = Path(tempfile.mkdtemp(prefix="karaoke-serve-load-"))
    fake, gemini_url = start_fake_gemini(args.latency_ms)
    results = []
    try:
        for replicas in args.replicas:
            result = measure(gemini_url, replicas, counts, args.latency_ms, work)
            results.append(result)
            print(
                f"replicas={result.replicas} workers={result.workers} clients={result.clients} "
                f"requests={result.requests} images={result.images}: {result.images_per_s} images/s "
                f"(ideal {result.ideal_images_per_s}, {result.efficiency:.0%}); request p50 "
                f"{result.p50_request_s} s, p95 {result.p95_request_s} s; HTTP {result.statuses}; "
                f"images {result.image_statuses}",
                flush=True,
            )
    finally:
        fake.stop()
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
