"""Cold and warm ``parse`` against a hand-written asyncio script, as processes a user starts.

``python -m bench.startup [--quick]``: for each k, the process wall time and
the time to the first request (the fake server's log) of

- ``karaoke-pipeline parse DIR --backend gemini --workers k`` on a Ray of its own (cold),
- the same while ``karaoke-pipeline up --backend gemini --workers k`` runs (warm),
- ``python -m bench.startup script DIR k``: asyncio + google-genai with a semaphore of k,

interleaved, medians of the repeats, against one fake Gemini at 300 ms. Writes
``bench/results/startup.md`` and ``startup.json``. Run under ``loopback-only``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from bench.baselines import request_config, request_contents
from bench.config import BENCH_KEY, RESULTS_DIR
from bench.server import ServerProcess
from pipeline.testing.fake_gemini import FakeGeminiOptions
from pipeline.testing.scripted import make_scripted_png

Contender = str  # "cold", "warm", "asyncio"


class StartupRecord(BaseModel):
    contender: Contender
    workers: int
    repeat: int
    wall_s: float
    first_request_s: float
    answered: int


def _env(base_url: str, data_dir: Path) -> dict[str, str]:
    """A new user's environment: a key and nothing else (no tier, no limits: the budget learns)."""
    env = {**os.environ, "GEMINI_API_KEY": BENCH_KEY, "KARAOKE_GEMINI_BASE_URL": base_url}
    env.update(KARAOKE_DATA_DIR=str(data_dir))
    for name in ("RAY_ADDRESS", "KARAOKE_GEMINI_TIER", "KARAOKE_GEMINI_RPM", "KARAOKE_GEMINI_TPM"):
        env.pop(name, None)
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr[-500:]}")
    return done


def _timed(server: ServerProcess, command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall time of a process, seconds to its first request at the server, requests answered."""
    server.reset(FakeGeminiOptions(extract="echo", latency_median_ms=300, latency_sigma=0.5, seed=7))
    started_wall, started = time.time(), time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=True)
    wall = time.perf_counter() - started
    requests = server.requests()
    first = min((r.time for r in requests), default=started_wall) - started_wall
    return wall, first, sum(1 for r in requests if r.status == 200)


def measure(workers: Sequence[int], repeats: int, images: int) -> list[StartupRecord]:
    records: list[StartupRecord] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch,
        ServerProcess(FakeGeminiOptions(extract="echo")) as server,
    ):
        folder = Path(scratch) / "images"
        folder.mkdir()
        for n in range(images):
            (folder / f"{n:03d}.png").write_bytes(
                make_scripted_png(venue=f"Startup Bar {n}", size=(800, 600))
            )
        env = _env(server.base_url, Path(scratch) / "data")
        for k in workers:
            parse = [sys.executable, "-m", "pipeline.cli", "parse", str(folder), "--backend", "gemini"]
            parse += [
                "--workers",
                str(k),
                "--no-cache",
                "--no-progress",
                "--out",
                str(Path(scratch) / "out.json"),
            ]
            script = [sys.executable, "-m", "bench.startup", "script", str(folder), str(k)]
            for repeat in range(repeats):
                for contender, command in (("cold", parse), ("asyncio", script)):
                    wall, first, answered = _timed(server, command, env)
                    records.append(_record(contender, k, repeat, wall, first, answered))
                    _log(records[-1])
            _cli(env, "up", "--backend", "gemini", "--workers", str(k))
            try:
                for repeat in range(repeats):
                    wall, first, answered = _timed(server, parse, env)
                    records.append(_record("warm", k, repeat, wall, first, answered))
                    _log(records[-1])
            finally:
                _cli(env, "down")
    return records


def _record(contender: str, k: int, repeat: int, wall: float, first: float, answered: int) -> StartupRecord:
    return StartupRecord(
        contender=contender, workers=k, repeat=repeat, wall_s=wall, first_request_s=first, answered=answered
    )


def _log(record: StartupRecord) -> None:
    print(
        f"[startup] k={record.workers} {record.contender:<7} rep {record.repeat + 1}: "
        f"{record.wall_s:6.2f} s, first request at {record.first_request_s:5.2f} s, {record.answered} ok",
        flush=True,
    )


def report(records: list[StartupRecord]) -> str:
    """Medians per k: wall and first request of each contender, and the ratios to asyncio."""
    lines = [
        "| k | cold parse | warm parse (`up`) | asyncio script | cold / asyncio | warm / asyncio "
        "| first request cold / warm / asyncio |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in sorted({r.workers for r in records}):

        def median(contender: str, field: str, k: int = k) -> float:
            values = [getattr(r, field) for r in records if r.workers == k and r.contender == contender]
            return statistics.median(values) if values else float("nan")

        cold, warm, script = (median(c, "wall_s") for c in ("cold", "warm", "asyncio"))
        firsts = " / ".join(f"{median(c, 'first_request_s'):.2f} s" for c in ("cold", "warm", "asyncio"))
        lines.append(
            f"| {k} | {cold:.2f} s | {warm:.2f} s | {script:.2f} s | {cold / script:.2f}x "
            f"| {warm / script:.2f}x | {firsts} |"
        )
    return "\n".join(lines) + "\n"


# --- the hand-written script a user would write instead --------------------------------------


async def _script(folder: Path, k: int) -> int:
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key=os.environ["GEMINI_API_KEY"],
        http_options=types.HttpOptions(base_url=os.environ["KARAOKE_GEMINI_BASE_URL"]),
    )
    semaphore = asyncio.Semaphore(k)

    async def one(path: Path) -> bool:
        async with semaphore:
            try:
                response = await client.aio.models.generate_content(
                    model="gemini-2.5-flash",
                    contents=request_contents(path.read_bytes()),
                    config=request_config(),
                )
                json.loads(response.text or "")
                return True
            except Exception:
                return False

    done = await asyncio.gather(*(one(path) for path in sorted(folder.glob("*.png"))))
    return sum(done)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "script"])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("k", nargs="?", type=int)
    parser.add_argument("--quick", action="store_true", help="k=5 once, 8 images (a smoke test)")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="values of k (default 1 3 5)")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each contender (default 3)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.mode == "script":
        print(asyncio.run(_script(args.folder, args.k)))
        return 0
    workers, repeats, images = ((5,), 1, 8) if args.quick else ((1, 3, 5), 3, 39)
    workers, repeats = tuple(args.workers or workers), args.repeats or repeats
    records = measure(workers, repeats, images)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps([r.model_dump() for r in records], indent=1))
    table = report(records)
    (args.out / "startup.md").write_text(
        f"# Cold and warm parse vs an asyncio script ({images} images, fake Gemini at 300 ms)\n\n{table}"
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
