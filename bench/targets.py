"""The targets of issue 7, checked against a summary's rows."""

from __future__ import annotations

from bench.summary import RateRow, Target, ThroughputRow

TARGET_IMAGES, TARGET_WORKERS = 40, 5
MIN_SPEEDUP = 4.5
MIN_VS_BATCH = 1.15
MAX_VS_ASYNCIO = 1.10
MAX_OVERHEAD_MS = 15.0
MIN_SUSTAINED = 0.90


def _row(rows: list[ThroughputRow], contender: str, images: int, workers: int) -> ThroughputRow | None:
    for row in rows:
        if (row.contender, row.images, row.workers) == (contender, images, workers):
            return row
    return None


def _not_measured(goal: str) -> Target:
    return Target(goal=goal, measured="not measured in this run", met=None)


def headline_targets(rows: list[ThroughputRow]) -> list[Target]:
    """Speedup and the ratio to the batch barrier at 5 workers and 40 images."""
    row = _row(rows, "pipeline", TARGET_IMAGES, TARGET_WORKERS)
    where = f"{TARGET_WORKERS} workers, {TARGET_IMAGES} images"
    speed_goal = f"speedup >= {MIN_SPEEDUP}x over sequential ({where})"
    batch_goal = f">= {MIN_VS_BATCH}x faster than the batch barrier ({where})"
    if row is None:
        return [_not_measured(speed_goal), _not_measured(batch_goal)]
    bound = (
        f" (zero-overhead bound on these draws: {row.speedup / row.of_bound:.2f}x)" if row.of_bound else ""
    )
    return [
        Target(goal=speed_goal, measured=f"{row.speedup:.2f}x{bound}", met=row.speedup >= MIN_SPEEDUP),
        Target(
            goal=batch_goal,
            measured=f"{row.vs_batch:.2f}x" if row.vs_batch else "-",
            met=row.vs_batch is not None and row.vs_batch >= MIN_VS_BATCH,
        ),
    ]


def asyncio_target(rows: list[ThroughputRow]) -> Target:
    """Pipeline wall / asyncio wall at the same k: the worst over every size and k."""
    goal = f"within {MAX_VS_ASYNCIO - 1:.0%} of asyncio.gather at the same k (worst size and k)"
    pairs = [row for row in rows if row.contender == "pipeline" and row.vs_asyncio is not None]
    if not pairs:
        return _not_measured(goal)
    worst = max(pairs, key=lambda row: row.vs_asyncio or 0.0)
    ratio = worst.vs_asyncio or 0.0
    at_headline = _row(rows, "pipeline", TARGET_IMAGES, TARGET_WORKERS)
    headline = (
        f"; {at_headline.vs_asyncio:.3f} at k={TARGET_WORKERS}, n={TARGET_IMAGES}"
        if at_headline and at_headline.vs_asyncio
        else ""
    )
    measured = f"worst {ratio:.3f} (n={worst.images}, k={worst.workers}){headline}"
    return Target(goal=goal, measured=measured, met=ratio <= MAX_VS_ASYNCIO)


def overhead_target(rows: list[ThroughputRow]) -> Target:
    """Per-image overhead of the warm pipeline, the worst over every size and k."""
    goal = f"pipeline overhead <= {MAX_OVERHEAD_MS:g} ms per image (worst size and k)"
    ours = [row for row in rows if row.contender == "pipeline"]
    if not ours:
        return _not_measured(goal)
    worst = max(ours, key=lambda row: row.overhead_ms)
    floor = _row(rows, "asyncio", worst.images, worst.workers)
    beside = f"; asyncio there: {floor.overhead_ms:.1f} ms" if floor else ""
    measured = f"worst {worst.overhead_ms:.1f} ms (n={worst.images}, k={worst.workers}){beside}"
    return Target(goal=goal, measured=measured, met=worst.overhead_ms <= MAX_OVERHEAD_MS)


def rate_target(rows: list[RateRow]) -> Target:
    goal = f">= {MIN_SUSTAINED:.0%} of the RPM limit sustained, zero failed images"
    ours = next((row for row in rows if row.contender == "pipeline"), None)
    if ours is None or ours.sustained_ratio is None:
        return _not_measured(goal)
    measured = f"{ours.sustained_ratio:.0%} of {ours.limit}, {ours.failed} failed, {ours.http_429} x 429"
    met = ours.sustained_ratio >= MIN_SUSTAINED and ours.failed == 0
    return Target(goal=goal, measured=measured, met=met)


def check_targets(throughput: list[ThroughputRow], rate_limit: list[RateRow]) -> list[Target]:
    return [
        *headline_targets(throughput),
        asyncio_target(throughput),
        overhead_target(throughput),
        rate_target(rate_limit),
    ]
