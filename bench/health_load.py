"""``/healthz`` latency while big uploads are in flight, against a default ``karaoke-pipeline serve``.

Starts the fake Gemini and ``serve`` (one replica, the default configuration, each in
its own process), then, for each count of upload streams, probes ``/healthz`` every
20 ms while that many other processes post 20 MB JSON bodies back to back, and prints
the probes' p50 / p95 / p99 and the uploads that completed. The uploads are noise, not
images (each is answered as a failed image, so no worker is used): what is measured is
the HTTP path, a body's relay through Serve's proxy and its decoding in the replica.

    python -m bench.health_load                   # 0, 1 and 3 upload streams, 300 probes each
    python -m bench.health_load --streams 0 1 --probes 200
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from bench.records import percentile, write_results
from bench.serve_load import start_fake_gemini, start_serve


class Stop(Protocol):
    def is_set(self) -> bool: ...


class Done(Protocol):
    def put(self, item: int) -> None: ...


DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "health_load.json"
UPLOAD_MB = 20
IMAGE_RAW_BYTES = 7 * 1024 * 1024
PROBE_GAP_S = 0.02


@dataclass
class HealthResult:
    """The probes of one run: measured, never assumed."""

    streams: int
    upload_mb: int
    probes: int
    uploads_completed: int
    upload_statuses: list[int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def upload_body(megabytes: int) -> bytes:
    """A JSON parse request of about ``megabytes`` MB: base64 strings of noise, 10 MB each at most
    (the default per-image limit is 10 MB decoded, so none is refused as too large)."""
    raw = megabytes * 1024 * 1024 * 3 // 4
    sizes = [IMAGE_RAW_BYTES] * (raw // IMAGE_RAW_BYTES) + (
        [raw % IMAGE_RAW_BYTES] if raw % IMAGE_RAW_BYTES else []
    )
    return json.dumps(
        {"screenshots": [base64.b64encode(os.urandom(size)).decode() for size in sizes]}
    ).encode()


def upload_forever(url: str, body: bytes, stop: Stop, done: Done, timeout_s: float = 120.0) -> None:
    """One upload stream: post ``body`` to ``url``'s parse endpoint until ``stop`` is set, each
    answer's status into ``done``. Here a process of its own (the prober shares no GIL with it)."""
    with httpx.Client(timeout=timeout_s) as client:
        while not stop.is_set():
            response = client.post(
                f"{url}/api/parser/analyze-screenshots",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            done.put(response.status_code)


def probe(url: str, streams: int, probes: int, body: bytes) -> HealthResult:
    """``probes`` /healthz calls while ``streams`` upload processes keep posting ``body``."""
    context = multiprocessing.get_context("spawn")
    stop, done = context.Event(), context.Queue()
    arguments = (url, body, stop, done)
    uploaders = [context.Process(target=upload_forever, args=arguments, daemon=True) for _ in range(streams)]
    for uploader in uploaders:
        uploader.start()
    statuses: list[int] = []
    latencies: list[float] = []
    try:
        with httpx.Client(timeout=30) as client:
            while streams and done.empty():  # the uploads are flowing before the first probe counts
                time.sleep(0.05)
            while len(latencies) < probes or len(statuses) < streams:
                before = time.perf_counter()
                response = client.get(f"{url}/healthz")
                latencies.append((time.perf_counter() - before) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"/healthz answered {response.status_code}: {response.text}")
                while not done.empty():
                    statuses.append(done.get())
                time.sleep(PROBE_GAP_S)
    finally:
        stop.set()
        for uploader in uploaders:
            uploader.join(120)
            if uploader.is_alive():
                uploader.kill()
    return HealthResult(
        streams=streams,
        upload_mb=round(len(body) / 2**20),
        probes=len(latencies),
        uploads_completed=len(statuses),
        upload_statuses=sorted(set(statuses)),
        p50_ms=round(percentile(latencies, 50), 1),
        p95_ms=round(percentile(latencies, 95), 1),
        p99_ms=round(percentile(latencies, 99), 1),
        max_ms=round(max(latencies), 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.health_load", description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[0, 1, 3], help="upload streams per run")
    parser.add_argument("--probes", type=int, default=300, help="/healthz probes per run (default 300)")
    parser.add_argument("--mb", type=int, default=UPLOAD_MB, help=f"upload size in MiB (default {UPLOAD_MB})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    body = upload_body(args.mb)
    work = Path(tempfile.mkdtemp(prefix="karaoke-health-load-"))
    fake, gemini_url = start_fake_gemini(300.0)
    results = []
    try:
        server, url, _ = start_serve(gemini_url, 1, work / "data")
        try:
            probe(url, 0, 50, body)  # warm: the first probes pay for connections and imports
            for streams in args.streams:
                result = probe(url, streams, args.probes, body)
                results.append(result)
                print(
                    f"upload streams={result.streams} ({result.upload_mb} MiB each): /healthz p50 "
                    f"{result.p50_ms} ms, p95 {result.p95_ms} ms, p99 {result.p99_ms} ms, max "
                    f"{result.max_ms} ms over {result.probes} probes; {result.uploads_completed} uploads "
                    f"completed, HTTP {result.upload_statuses}",
                    flush=True,
                )
        finally:
            server.stop()
    finally:
        fake.stop()
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
