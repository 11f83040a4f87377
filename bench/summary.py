"""From run records to the numbers we publish: medians, ratios, targets, noise.

Ratios are taken within one repetition (the runs that were measured minutes
apart on the same machine) and then the median over repetitions is reported.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable

from pydantic import BaseModel

from bench.bound import BoundRow
from bench.records import RunRecord

Key = tuple[str, int, str, int]  # scenario, images, contender, workers


class ThroughputRow(BaseModel):
    images: int
    contender: str
    workers: int
    repeats: int
    wall_s: float
    wall_spread: float  # (max - min) / median over repetitions
    speedup: float  # over the sequential pipeline of the same repetition
    efficiency: float
    of_bound: float | None = None  # speedup / the zero-overhead greedy bound on the same draws
    vs_batch: float | None  # batch-barrier wall / this wall: > 1 means faster than the old design
    vs_asyncio: float | None  # this wall / asyncio wall: <= 1.10 is "within 10%"
    overhead_ms: float
    p50_ms: float
    p95_ms: float
    failed: int


class RateRow(BaseModel):
    contender: str
    images: int
    workers: int
    limit: str
    wall_s: float
    answered: int
    http_429: int
    failed: int
    sustained_ratio: float | None
    busiest_window: int | None


class OcrRow(BaseModel):
    workers: int
    images: int
    wall_s: float
    wall_spread: float
    images_per_s: float
    p50_ms: float


class Target(BaseModel):
    goal: str
    measured: str
    met: bool | None  # None: this run did not measure it (e.g. --quick)


class Noise(BaseModel):
    load_min: float
    load_max: float
    median_spread: float
    max_spread: float
    max_spread_at: str


class Summary(BaseModel):
    throughput: list[ThroughputRow]
    bounds: list[BoundRow]
    rate_limit: list[RateRow]
    ocr: list[OcrRow]
    targets: list[Target]
    noise: Noise


def _median(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.median(listed) if listed else 0.0


def _spread(values: list[float]) -> float:
    middle = _median(values)
    return (max(values) - min(values)) / middle if middle > 0 and len(values) > 1 else 0.0


def group(records: Iterable[RunRecord]) -> dict[Key, dict[int, RunRecord]]:
    """Records by (scenario, images, contender, workers), then by repetition."""
    grouped: dict[Key, dict[int, RunRecord]] = defaultdict(dict)
    for record in records:
        grouped[(record.scenario, record.images, record.contender, record.workers)][record.repeat] = record
    return grouped


def _paired(
    runs: dict[int, RunRecord], others: dict[int, RunRecord], ratio: Callable[[RunRecord, RunRecord], float]
) -> float | None:
    """Median over repetitions of ratio(this run, the other contender's run of that repetition)."""
    values = [ratio(run, others[repeat]) for repeat, run in runs.items() if repeat in others]
    return _median(values) if values else None


def throughput_rows(grouped: dict[Key, dict[int, RunRecord]]) -> list[ThroughputRow]:
    rows = []
    for (scenario, images, contender, k), runs in sorted(grouped.items()):
        if scenario != "throughput":
            continue
        sequential = grouped.get((scenario, images, "pipeline", 1), {})
        batch = grouped.get((scenario, images, "batch-barrier", k), {})
        asyncio_runs = grouped.get((scenario, images, "asyncio", k), {})
        speedup = _paired(runs, sequential, lambda run, seq: seq.wall_s / run.wall_s) or 0.0
        walls = [run.wall_s for run in runs.values()]
        rows.append(
            ThroughputRow(
                images=images, contender=contender, workers=k, repeats=len(runs),
                wall_s=_median(walls), wall_spread=_spread(walls),
                speedup=speedup, efficiency=speedup / k,
                vs_batch=_paired(runs, batch, lambda run, other: other.wall_s / run.wall_s),
                vs_asyncio=_paired(runs, asyncio_runs, lambda run, other: run.wall_s / other.wall_s),
                overhead_ms=_median(run.overhead_ms for run in runs.values()),
                p50_ms=_median(run.image_p50_ms for run in runs.values()),
                p95_ms=_median(run.image_p95_ms for run in runs.values()),
                failed=max(run.failed for run in runs.values()),
            )
        )  # fmt: skip
    return rows


def rate_rows(grouped: dict[Key, dict[int, RunRecord]], limit: str) -> list[RateRow]:
    rows = []
    for (scenario, images, contender, k), runs in sorted(grouped.items()):
        if scenario != "rate_limit":
            continue
        ratios = [run.sustained_ratio for run in runs.values() if run.sustained_ratio is not None]
        busiest = [run.busiest_window for run in runs.values() if run.busiest_window is not None]
        rows.append(
            RateRow(
                contender=contender, images=images, workers=k, limit=limit,
                wall_s=_median(run.wall_s for run in runs.values()),
                answered=round(_median(run.answered for run in runs.values())),
                http_429=max(run.http_429 for run in runs.values()),
                failed=max(run.failed for run in runs.values()),
                sustained_ratio=_median(ratios) if ratios else None,
                busiest_window=max(busiest) if busiest else None,
            )
        )  # fmt: skip
    return rows


def ocr_rows(grouped: dict[Key, dict[int, RunRecord]]) -> list[OcrRow]:
    rows = []
    for (scenario, images, _, k), runs in sorted(grouped.items()):
        if scenario == "ocr":
            walls = [run.wall_s for run in runs.values()]
            wall = _median(walls)
            rows.append(
                OcrRow(
                    workers=k, images=images, wall_s=wall, wall_spread=_spread(walls),
                    images_per_s=images / wall if wall else 0.0,
                    p50_ms=_median(run.image_p50_ms for run in runs.values()),
                )
            )  # fmt: skip
    return rows


def noise(records: list[RunRecord], grouped: dict[Key, dict[int, RunRecord]]) -> Noise:
    spreads = {
        f"{key[0]} n={key[1]} {key[2]} k={key[3]}": _spread([run.wall_s for run in runs.values()])
        for key, runs in grouped.items()
        if len(runs) > 1
    }
    worst = max(spreads, key=lambda name: spreads[name]) if spreads else "-"
    loads = [record.load_1m for record in records] or [0.0]
    return Noise(
        load_min=min(loads),
        load_max=max(loads),
        median_spread=_median(spreads.values()),
        max_spread=spreads.get(worst, 0.0),
        max_spread_at=worst,
    )


def with_bounds(rows: list[ThroughputRow], bounds: list[BoundRow]) -> list[ThroughputRow]:
    """Rows with ``of_bound`` filled in where a bound for their size and k is known."""
    by_key = {(bound.images, bound.workers): bound.speedup for bound in bounds}
    return [
        row.model_copy(update={"of_bound": row.speedup / by_key[(row.images, row.workers)]})
        if by_key.get((row.images, row.workers))
        else row
        for row in rows
    ]
