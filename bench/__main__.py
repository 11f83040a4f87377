"""``python -m bench``: run the benchmark, write the table, the JSON and the chart.

Run it under ``../shared/tools/loopback-only`` (it starts Ray and a server).
``--quick`` is the smoke-test variant (well under two minutes);
``--report-only`` redraws the table and chart from the last JSON. The rows that
need no server (``bench.merge``, ``bench.image_cost``) are written as text next
to them (small sizes in ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import image_cost, merge
from bench.config import BenchConfig, LatencyModel
from bench.report import Measurements, write_outputs
from bench.scenarios import ThroughputBench, log, run_ocr, run_rate_limit, server_options
from bench.server import ServerProcess

RAW_NAME = "bench.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smoke-test variant (under 2 minutes)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default bench/results)")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="images per run (default 40 400)")
    parser.add_argument("--latency-ms", type=float, default=None, help="median server latency (300)")
    parser.add_argument("--sigma", type=float, default=None, help="log-normal spread of latency (0.5)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the latency draws")
    parser.add_argument("--no-rate-limit", action="store_true", help="skip scenario 2")
    parser.add_argument("--no-ocr", action="store_true", help="skip scenario 3")
    parser.add_argument(
        "--only-rate-limit", action="store_true", help="scenario 2 alone (the free-tier budget row)"
    )
    parser.add_argument("--report-only", action="store_true", help="redraw outputs from the last JSON")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The default (or quick) configuration with the options given on the command line."""
    base = BenchConfig.quick_variant(args.out) if args.quick else BenchConfig()
    latency = base.latency.model_dump()
    for name, value in (("median_ms", args.latency_ms), ("sigma", args.sigma), ("seed", args.seed)):
        if value is not None:
            latency[name] = value
    updates: dict[str, object] = {"latency": LatencyModel(**latency)}
    if args.out is not None:
        updates["out_dir"] = args.out
    if args.repeats is not None:
        updates["repeats"] = args.repeats
    if args.sizes is not None:
        updates["sizes"] = tuple(args.sizes)
    if args.no_rate_limit:
        updates["rate_limit"] = None
    if args.no_ocr or args.only_rate_limit:
        updates["ocr"] = None
    if args.only_rate_limit:
        updates["sizes"] = ()
    return BenchConfig.model_validate({**base.model_dump(), **updates})


def measure(config: BenchConfig) -> Measurements:
    """Every scenario, on one fake server process and one local Ray."""
    from pipeline.session import ray_runtime

    started, load_before = time.time(), os.getloadavg()
    with ServerProcess(server_options(config)) as server, ray_runtime() as with_ray:
        if not with_ray:
            raise SystemExit("Ray did not start; run under ../shared/tools/loopback-only")
        throughput, startup_s = ThroughputBench(config, server).run() if config.sizes else ([], 0.0)
        rate_limit = run_rate_limit(config, server)
        ocr = run_ocr(config)
    return Measurements(
        config=config,
        records=[*throughput, *rate_limit, *ocr],
        fleet_startup_s=startup_s,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        duration_s=time.time() - started,
        cpus=os.cpu_count() or 0,
        machine=f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        load_before=list(load_before),
        load_after=list(os.getloadavg()),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    raw = config.out_dir / RAW_NAME
    if args.report_only:
        stored = json.loads(raw.read_text())
        stored.pop("summary", None)  # recomputed from the records
        measurements = Measurements.model_validate(stored)
    else:
        measurements = measure(config)
        config.out_dir.mkdir(parents=True, exist_ok=True)
        raw.write_text(measurements.model_dump_json(indent=1))  # first, so a report bug loses nothing
    for path in write_outputs(measurements, config.out_dir):
        log(f"wrote {path}")
    if not args.report_only:
        for path in write_local_rows(config.out_dir, quick=config.quick):
            log(f"wrote {path}")
    return 0


def write_local_rows(out_dir: Path, *, quick: bool) -> list[Path]:
    """The merge and per-image CPU rows, measured in this process, as text files."""
    rows = {
        merge.RESULT_NAME: merge.rows(merge.QUICK_SIZES if quick else merge.SIZES),
        image_cost.RESULT_NAME: image_cost.measure(1 if quick else 5),
    }
    paths = []
    for name, lines in rows.items():
        (out_dir / name).write_text("\n".join(lines) + "\n")
        paths.append(out_dir / name)
    return paths


if __name__ == "__main__":
    sys.exit(main())
