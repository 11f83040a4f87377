"""The best any dispatcher could do on the latencies the fake server draws.

The server's draws are seeded: request i gets the i-th latency whoever sends
it. A dispatcher with zero overhead that hands the next image to the first free
slot (greedy list scheduling) finishes n images on k slots at the makespan
simulated here; sum / makespan is then the highest speedup reachable at k,
lower than k because the last images leave slots idle. The same draws through
the original batch barrier, also with zero overhead, show what the barrier
alone costs (apart from its client per image).
"""

from __future__ import annotations

import heapq

from pydantic import BaseModel

from bench.baselines import BATCH_PAUSE_S
from bench.config import LatencyModel
from pipeline.testing.fake_gemini_options import FakeGeminiOptions, FaultPlan


class BoundRow(BaseModel):
    images: int
    workers: int
    speedup: float  # sum of latencies / greedy makespan
    barrier_speedup: float  # sum of latencies / the batch barrier's makespan, zero overhead


def drawn_latencies_s(latency: LatencyModel, count: int) -> list[float]:
    """The latencies the server draws for its first ``count`` requests (fault draw, then latency)."""
    options = FakeGeminiOptions(
        extract="echo", latency_median_ms=latency.median_ms, latency_sigma=latency.sigma, seed=latency.seed
    )
    plan = FaultPlan(options)
    draws = []
    for _ in range(count):
        plan.next_fault()
        draws.append(plan.latency_s())
    return draws


def greedy_makespan(latencies: list[float], k: int) -> float:
    """When the last of the jobs ends if each goes, in order, to the slot free first."""
    slots = [0.0] * k
    for latency in latencies:
        heapq.heappush(slots, heapq.heappop(slots) + latency)
    return max(slots)


def barrier_makespan(latencies: list[float], k: int, pause_s: float) -> float:
    """The original design with zero overhead: each batch of k lasts as long as its slowest image."""
    batches = [latencies[first : first + k] for first in range(0, len(latencies), k)]
    return sum(max(batch) for batch in batches) + pause_s * (len(batches) - 1)


def greedy_bounds(latency: LatencyModel, sizes: tuple[int, ...], ks: tuple[int, ...]) -> list[BoundRow]:
    rows = []
    for images in sizes:
        draws = drawn_latencies_s(latency, images)
        total = sum(draws)
        for k in ks:
            greedy, barrier = greedy_makespan(draws, k), barrier_makespan(draws, k, BATCH_PAUSE_S)
            rows.append(
                BoundRow(images=images, workers=k, speedup=total / greedy, barrier_speedup=total / barrier)
            )
    return rows
