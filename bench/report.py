"""The outputs: ``bench.json`` (every record and the summary), ``bench.md`` and ``speedup.png``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from bench.bound import greedy_bounds
from bench.chart import draw_speedup_chart
from bench.config import BenchConfig
from bench.records import RunRecord
from bench.summary import Summary, group, noise, ocr_rows, rate_rows, throughput_rows, with_bounds
from bench.targets import check_targets

TABLE_NAME, CHART_NAME = "bench.md", "speedup.png"
CONTENDER_NAMES = {
    "pipeline": "pipeline (warm fleet)",
    "pipeline-cold": "run_parse (starts its actors)",
    "batch-barrier": "batch barrier (original)",
    "asyncio": "asyncio.gather + semaphore",
}


class Measurements(BaseModel):
    """Everything one benchmark run measured, with where and when."""

    config: BenchConfig
    records: list[RunRecord]
    fleet_startup_s: float
    started_at: str
    duration_s: float
    cpus: int
    machine: str
    load_before: list[float]
    load_after: list[float]
    summary: Summary | None = None


def summarize(measurements: Measurements) -> Summary:
    config, records = measurements.config, measurements.records
    grouped = group(records)
    limit = f"{config.rate_limit.rpm} per {config.rate_limit.window_s:g} s" if config.rate_limit else "-"
    ks = tuple(sorted({record.workers for record in records if record.scenario == "throughput"}))
    bounds = greedy_bounds(config.latency, config.sizes, ks)
    throughput = with_bounds(throughput_rows(grouped), bounds)
    rate_limit = rate_rows(grouped, limit)
    return Summary(
        throughput=throughput,
        bounds=bounds,
        rate_limit=rate_limit,
        ocr=ocr_rows(grouped),
        targets=check_targets(throughput, rate_limit),
        noise=noise(records, grouped),
    )


def _optional(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows)]


def _intro(m: Measurements, summary: Summary) -> list[str]:
    config, latency, n = m.config, m.config.latency, summary.noise
    command = ".venv/bin/python -m bench" + (" --quick" if config.quick else "")
    return [
        "# Benchmark results",
        "",
        f"`../shared/tools/loopback-only {command}` on {m.machine}, {m.cpus} cores, {m.started_at}, "
        f"{m.duration_s / 60:.1f} min. Fake Gemini server in its own process, echo replies, log-normal "
        f"latency (median {latency.median_ms:g} ms, sigma {latency.sigma:g}, seed {latency.seed}: every run "
        f"meets the same draws); tiny distinct PNGs. Medians of {config.repeats} repetition(s).",
        "",
        f"**Noise.** 1-minute load average {n.load_min:.1f} to {n.load_max:.1f} on {m.cpus} cores "
        f"(before the run {m.load_before[0]:.1f}, after {m.load_after[0]:.1f}). Wall-time spread between "
        f"repetitions, (max - min) / median: median {n.median_spread:.1%}, worst {n.max_spread:.1%} "
        f"({n.max_spread_at}).",
    ]


def _targets(summary: Summary) -> list[str]:
    mark = {True: "yes", False: "**no**", None: "-"}
    rows = [[t.goal, t.measured, mark[t.met]] for t in summary.targets]
    return ["", "## Targets (issue 7)", "", *_table(["goal", "measured", "met"], rows)]


def _throughput(summary: Summary) -> list[str]:
    lines: list[str] = []
    header = "contender|k|wall s|spread|speedup|efficiency|of bound|vs batch barrier|pipeline / asyncio"
    header += "|overhead ms/image|p50 ms|p95 ms|failed"
    for images in sorted({row.images for row in summary.throughput}):
        rows = [
            [
                CONTENDER_NAMES[r.contender],
                str(r.workers),
                f"{r.wall_s:.2f}",
                f"{r.wall_spread:.0%}",
                f"{r.speedup:.2f}x",
                f"{r.efficiency:.0%}",
                _optional(r.of_bound, ".0%"),
                _optional(r.vs_batch, ".2f") + ("x" if r.vs_batch else ""),
                _optional(r.vs_asyncio, ".3f"),
                f"{r.overhead_ms:.1f}",
                f"{r.p50_ms:.0f}",
                f"{r.p95_ms:.0f}",
                str(r.failed),
            ]
            for r in sorted(summary.throughput, key=lambda r: (r.workers, r.contender))
            if r.images == images
        ]
        lines += ["", f"## Throughput, {images} images", "", *_table(header.split("|"), rows)]
        lines += ["", _bounds_line(summary, images)]
    return lines


def _bounds_line(summary: Summary, images: int) -> str:
    """The zero-overhead speedups on the same draws, for greedy dispatch and for the batch barrier."""
    bounds = sorted((b for b in summary.bounds if b.images == images), key=lambda b: b.workers)
    greedy = ", ".join(f"k={b.workers} {b.speedup:.2f}x" for b in bounds)
    barrier = ", ".join(f"k={b.workers} {b.barrier_speedup:.2f}x" for b in bounds)
    return (
        f"Zero-overhead speedups on these draws (simulated, `bench/bound.py`): greedy dispatch {greedy}; "
        f"batch barrier (pauses included, no client cost) {barrier}."
    )


LEGEND = " ".join(
    [
        "Speedup: sequential pipeline (k=1) wall / this wall, same repetition (so the asyncio rows gain",
        "the pipeline's own per-image cost at k=1 and can pass 100% of the bound).",
        "Of bound: speedup / what a zero-overhead greedy dispatcher reaches on the same latency draws",
        "(bench/bound.py). Vs batch barrier: its wall / this wall at the same k (> 1: faster).",
        "Pipeline / asyncio: wall ratio at the same k. Overhead: (wall - ideal) / n, ideal = sum of the",
        "latencies the server drew / k; it includes the unavoidable tail when fewer than k images are left,",
        "which the asyncio rows show. p50/p95: time of one image as its client measured it (for the",
        "pipeline, inside the worker).",
    ]
)


def _start_up(m: Measurements, summary: Summary) -> list[str]:
    cold = [r for r in summary.throughput if r.contender == "pipeline-cold"]
    started = f"The warm fleet of 5 actors started in {m.fleet_startup_s:.2f} s, before any timed run."
    lines = ["", LEGEND, "", "## Start-up", "", started]
    for row in cold:
        same = ("pipeline", row.images, row.workers)
        warm = next((r for r in summary.throughput if (r.contender, r.images, r.workers) == same), None)
        extra = f", {row.wall_s - warm.wall_s:.2f} s more than on the warm fleet" if warm else ""
        lines.append(
            f"`run_parse` (the CLI path: starts {row.workers} actors, stops them) took "
            f"{row.wall_s:.2f} s for {row.images} images{extra}."
        )
    return lines


RATE_NAMES = {"pipeline": "run_parse + shared rate limiter"}


def _rate_limit(summary: Summary) -> list[str]:
    if not summary.rate_limit:
        return []
    header = [
        "contender",
        "images",
        "k",
        "limit",
        "wall s",
        "answered (200)",
        "429s",
        "failed images",
        "sustained / limit",
        "busiest window",
    ]
    rows = [
        [
            RATE_NAMES.get(r.contender, CONTENDER_NAMES[r.contender]),
            str(r.images),
            str(r.workers),
            r.limit,
            f"{r.wall_s:.1f}",
            str(r.answered),
            str(r.http_429),
            str(r.failed),
            _optional(r.sustained_ratio, ".0%"),
            _optional(r.busiest_window, "d"),
        ]
        for r in summary.rate_limit
    ]
    note = (
        "Sustained / limit: the window over the mean gap between answered request j and request j - limit "
        "(the server admits j no sooner than one window after j - limit, so 1.0 is the most the limit "
        "allows). Neither baseline retries, as the original app did not."
    )
    return ["", "## Under an RPM limit", "", *_table(header, rows), "", note]


def _ocr(summary: Summary) -> list[str]:
    if not summary.ocr:
        return []
    header = ["workers", "images", "wall s", "spread", "images/s", "p50 ms/image"]
    rows = [
        [
            str(r.workers),
            str(r.images),
            f"{r.wall_s:.2f}",
            f"{r.wall_spread:.0%}",
            f"{r.images_per_s:.2f}",
            f"{r.p50_ms:.0f}",
        ]
        for r in summary.ocr
    ]
    return ["", "## Local OCR backend (examples/screenshots)", "", *_table(header, rows)]


def markdown(m: Measurements, summary: Summary) -> str:
    sections = [_intro(m, summary), _targets(summary), _throughput(summary), _start_up(m, summary)]
    sections += [_rate_limit(summary), _ocr(summary), ["", f"![speedup vs workers]({CHART_NAME})", ""]]
    lines = [line for section in sections for line in section]
    return "\n".join(lines)


def write_outputs(measurements: Measurements, out_dir: Path) -> list[Path]:
    """Summarize, then write the JSON (records + summary), the table and the chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(measurements)
    measurements = measurements.model_copy(update={"summary": summary})
    json_path, table_path, chart_path = out_dir / "bench.json", out_dir / TABLE_NAME, out_dir / CHART_NAME
    json_path.write_text(measurements.model_dump_json(indent=1))
    table_path.write_text(markdown(measurements, summary))
    draw_speedup_chart(summary.throughput, summary.bounds, chart_path)
    return [json_path, table_path, chart_path]
