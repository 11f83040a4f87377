"""One measured run as a record, and the metrics computed from it.

A record keeps what the client saw (wall time, per-image times, failures)
next to what the server saw (the latencies it actually drew, 429s, arrival
times), so overhead is measured against the real draws, not an estimate.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.baselines import Outcome
from pipeline.testing.fake_gemini import RequestRecord

Scenario = Literal["throughput", "rate_limit", "ocr"]
Contender = Literal["pipeline", "pipeline-cold", "batch-barrier", "asyncio"]


class RunRecord(BaseModel):
    """One run of one contender: client-side and server-side measurements."""

    model_config = ConfigDict(extra="forbid")
    scenario: Scenario
    contender: Contender
    images: int
    workers: int
    repeat: int
    wall_s: float = Field(description="the whole run as its caller saw it")
    image_p50_ms: float = Field(description="median time of one image, measured by the client")
    image_p95_ms: float
    failed: int = Field(description="images without a result")
    server_latency_sum_s: float = Field(default=0.0, description="sum of the server's answered-request times")
    answered: int = Field(default=0, description="requests the server answered with 200")
    http_429: int = Field(default=0, description="requests the server refused for the rate limit")
    busiest_window: int | None = Field(default=None, description="most 200s in any one rate window")
    sustained_ratio: float | None = Field(
        default=None,
        description="window / mean gap between request j and j - limit (1.0: as fast as allowed)",
    )
    load_1m: float = Field(description="the machine's 1-minute load average when the run ended")

    @property
    def overhead_ms(self) -> float:
        """Per-image overhead: (wall - ideal) / n, ideal = server latencies / k."""
        ideal_s = self.server_latency_sum_s / self.workers
        return (self.wall_s - ideal_s) / self.images * 1000

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0


def write_results(path: Path, results: Sequence[Any]) -> None:
    """A benchmark's results (dataclasses) as a JSON list at ``path``, its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(result) for result in results], indent=2) + "\n")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between ranks; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def busiest_window(arrivals: Sequence[float], window_s: float) -> int:
    """The most arrivals in any window [t, t + window_s) that starts at an arrival."""
    times = sorted(arrivals)
    most, first = 0, 0
    for last, time in enumerate(times):
        while time - times[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def sustained_ratio(arrivals: Sequence[float], limit: int, window_s: float) -> float | None:
    """How fast the client reuses each slot of a sliding-window limit: 1.0 is as fast as allowed.

    Request j may arrive no sooner than one window after request j - limit; the
    ratio is the window over the mean of those gaps (None within one window).
    """
    times = sorted(arrivals)
    gaps = [times[j] - times[j - limit] for j in range(limit, len(times))]
    if not gaps or statistics.mean(gaps) <= 0:
        return None
    return window_s / statistics.mean(gaps)


def make_record(
    outcome: Outcome,
    requests: Sequence[RequestRecord],
    *,
    scenario: Scenario,
    contender: Contender,
    workers: int,
    repeat: int,
    rate_window_s: float | None = None,
    rate_limit: int | None = None,
) -> RunRecord:
    """The record of one run from the client's outcome and the server's request log."""
    answered = [r for r in requests if r.status == 200]
    arrivals = [r.time for r in answered]
    windowed = rate_window_s is not None and rate_limit is not None
    return RunRecord(
        scenario=scenario,
        contender=contender,
        images=len(outcome.image_ms),
        workers=workers,
        repeat=repeat,
        wall_s=outcome.wall_s,
        image_p50_ms=percentile(outcome.image_ms, 50),
        image_p95_ms=percentile(outcome.image_ms, 95),
        failed=outcome.failed,
        server_latency_sum_s=sum(r.duration_ms for r in answered) / 1000,
        answered=len(answered),
        http_429=sum(1 for r in requests if r.status == 429),
        busiest_window=busiest_window(arrivals, rate_window_s) if windowed and rate_window_s else None,
        sustained_ratio=sustained_ratio(arrivals, rate_limit, rate_window_s)
        if rate_limit and rate_window_s
        else None,
        load_1m=os.getloadavg()[0],
    )
