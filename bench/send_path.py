"""The send path as a new user meets it: ``karaoke-pipeline parse`` on a quota nobody configured.

``python -m bench.send_path [--images 20] [--workers 5] [--window 6]``: one fake Gemini in a
process of its own enforces 10 requests per window (the free tier's 10 per minute, scaled
down), answers about 1 request in 4 with an injected 429 (retryDelay 2 s; ``--inject-429 0``
for none, so that only the quota's own 429s teach the limit) and 1 in 7 with a 503. Two
``parse`` runs follow, each a process on a Ray of its own, with no tier and no limits set and
one fresh data dir: the first learns the quota, the second starts from what the first kept.
For each run it prints, from the server's log: images lost, requests, 429s from the quota and
injected ones, requests sent sooner than their image's 429 asked, whether every image's
``attempts`` equals its requests at the server, and the time the requests took against the
quota's bound. Run under ``loopback-only``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.config import BENCH_KEY
from bench.server import ServerProcess
from pipeline.testing.fake_gemini import FakeGeminiOptions, FaultRates, RequestRecord
from pipeline.testing.request_log import by_image, early_retries, quota_refusals
from pipeline.testing.scripted import make_scripted_png

RPM = 10


def _server_options(window_s: float, seed: int, injected_429: float) -> FakeGeminiOptions:
    faults = FaultRates(http_429=injected_429, http_503=0.14)
    return FakeGeminiOptions(
        extract="echo", rpm=RPM, rate_window_s=window_s, faults=faults, retry_delay_s=2, seed=seed
    )


def _parse(
    folder: Path, data_dir: Path, base_url: str, workers: int, window_s: float
) -> tuple[float, float, dict[str, Any]]:
    env = {**os.environ, "GEMINI_API_KEY": BENCH_KEY, "KARAOKE_GEMINI_BASE_URL": base_url}
    env.update(KARAOKE_DATA_DIR=str(data_dir), KARAOKE_GEMINI_RATE_WINDOW_S=str(window_s))
    for name in ("KARAOKE_GEMINI_TIER", "KARAOKE_GEMINI_RPM", "KARAOKE_GEMINI_TPM", "RAY_ADDRESS"):
        env.pop(name, None)
    out = data_dir / "out.json"
    command = [sys.executable, "-m", "pipeline.cli", "parse", str(folder), "--backend", "gemini"]
    command += ["--workers", str(workers), "--no-cache", "--no-progress", "--out", str(out)]
    started = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.time() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"parse failed ({done.returncode}): {done.stderr[-800:]}")
    return started, wall, json.loads(out.read_text())


def _report(
    name: str,
    timing: tuple[float, float],
    response: dict[str, Any],
    records: list[RequestRecord],
    window_s: float,
) -> str:
    """One run's line: what the server saw against what the client reported."""
    started, wall = timing
    results = response["results"]
    lost = [r["source"] for r in results if not r["success"]]
    sent = by_image(records)
    attempts_match = all(r["attempts"] == len(sent[r["sha256"]]) for r in results)
    injected = sum(1 for r in records if r.fault == "http_429")
    bound = math.ceil(len(records) / RPM - 1) * window_s
    arrivals = sorted(record.time for record in records)
    span = arrivals[-1] - arrivals[0] if arrivals else 0.0
    return (
        f"{name}: {len(results)} images, {len(lost)} lost {lost or ''}; {len(records)} requests "
        f"({quota_refusals(records)} x 429 from the quota, {injected} x 429 injected, "
        f"{sum(1 for r in records if r.status == 503)} x 503); early retries {len(early_retries(records))}; "
        f"attempts = requests per image: {attempts_match}; retries {response['stats']['retries']} "
        f"= requests - images {len(records) - len(results)}; process wall {wall:.1f} s, first request "
        f"at {arrivals[0] - started:.1f} s, requests spread over {span:.1f} s "
        f"(the quota's bound for {len(records)} requests at {RPM} per {window_s:g} s: {bound:.0f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="screenshots per run (default 20)")
    parser.add_argument("--workers", type=int, default=5, help="--workers of parse (default 5)")
    parser.add_argument("--window", type=float, default=6.0, help="the quota window, seconds (default 6)")
    parser.add_argument("--seed", type=int, default=3, help="seed of the fake's injected faults (default 3)")
    parser.add_argument(
        "--inject-429",
        type=float,
        default=0.25,
        help="share of requests answered 429 besides the quota's own",
    )
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="karaoke-send-path-") as scratch,
        ServerProcess(_server_options(args.window, args.seed, args.inject_429)) as server,
    ):
        data_dir = Path(scratch) / "data"
        for run in ("first run (learns)", "second run (remembers)"):
            folder = Path(scratch) / run.split()[0]
            folder.mkdir()
            for n in range(args.images):
                (folder / f"{n:03d}.png").write_bytes(make_scripted_png(venue=f"{run} {n}", size=(800, 600)))
            server.reset(_server_options(args.window, args.seed, args.inject_429))
            started, wall, response = _parse(folder, data_dir, server.base_url, args.workers, args.window)
            print(_report(run, (started, wall), response, server.requests(), args.window), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
