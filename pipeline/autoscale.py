"""How big a worker fleet should be now: the sizing rule, pure (no Ray, no clock).

A fleet (``pipeline.runner.WorkerFleet``) samples its load a few times a second
(``FleetLoad``) and asks ``ScalingPolicy`` for a target size. Workers are added at
once while images wait and the budget and CPUs allow; a worker is released only
once it has been free (not leased, no image in flight) for ``idle_s``, so scaling
never cancels an image.

The useful size of an I/O-bound fleet (Gemini) is the budget's request rate times
the time one request takes (Little's law): a 60-RPM budget and 3 s per request
keep 3 workers busy, and a fourth would only wait for a slot. A CPU-bound fleet
(local OCR) is bounded by the CPUs Ray can still place a worker on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FleetScaling(BaseModel):
    """A fleet's bounds and pace; from the plan (``pipeline.plan.plan_job``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_workers: int = Field(default=1, ge=1, description="workers kept however idle the fleet is")
    max_workers: int = Field(default=5, ge=1, description="workers the fleet may grow to")
    idle_s: float = Field(default=30.0, ge=0, description="a worker free this long is released (down to min)")
    interval_s: float = Field(default=0.25, gt=0, description="how often the load is sampled, seconds")

    @model_validator(mode="after")
    def _ordered(self) -> FleetScaling:
        if self.min_workers > self.max_workers:
            raise ValueError(f"min_workers {self.min_workers} is above max_workers {self.max_workers}")
        return self

    @classmethod
    def pinned(cls, size: int) -> FleetScaling:
        """A fleet of exactly ``size`` workers: autoscaling off."""
        return cls(min_workers=size, max_workers=size)

    @property
    def is_pinned(self) -> bool:
        return self.min_workers == self.max_workers


@dataclass(frozen=True)
class FleetLoad:
    """One sample of a fleet's state."""

    workers: int  # live actors, starting ones included
    leased: int  # actors lent to runs (working, or held by a run that has work left)
    queued: int  # images that runs would hand a worker now if they had one more
    latency_s: float | None = None  # observed time per request; None: none seen yet
    requests_per_s: float | None = None  # the budget's limit in force; None: not metered
    cpu_room: int | None = None  # more workers Ray could place now; None: unknown


class ScalingPolicy:
    """The sizing rule: ``target`` for growth, ``to_release`` for idle workers."""

    def __init__(self, scaling: FleetScaling) -> None:
        self.scaling = scaling

    def useful_size(self, load: FleetLoad) -> int | None:
        """Workers a metered budget keeps busy: requests per second x seconds per request
        (rounded up); None when the budget is not metered or no request was timed yet."""
        if load.requests_per_s is None or load.latency_s is None:
            return None
        return max(1, math.ceil(load.requests_per_s * load.latency_s - 1e-9))

    def target(self, load: FleetLoad) -> int:
        """The size the fleet should have now, within its bounds.

        Demand is every leased worker plus every image waiting for one; a metered
        budget caps it at its useful size (and, until a request was timed, at the
        fleet's size: it grows once it knows); growth stops at the CPUs Ray has left.
        """
        lo, hi = self.scaling.min_workers, self.scaling.max_workers
        wanted = load.leased + load.queued
        useful = self.useful_size(load)
        if useful is not None:
            wanted = min(wanted, useful)
        elif load.requests_per_s is not None:  # metered, nothing timed yet
            wanted = min(wanted, load.workers)
        target = min(max(wanted, lo), hi)
        if target > load.workers and load.cpu_room is not None:  # an actor Ray cannot place waits forever
            target = load.workers + min(target - load.workers, max(load.cpu_room, 0))
        return target

    def to_release(self, load: FleetLoad, idle_for_s: list[float]) -> int:
        """How many free workers to release now: those idle for ``idle_s`` or longer, as
        many as the fleet is over its target (``idle_for_s``: each free worker's idle time)."""
        over = load.workers - max(self.target(load), self.scaling.min_workers)
        if over <= 0:
            return 0
        long_idle = sum(1 for idle in idle_for_s if idle >= self.scaling.idle_s)
        return min(over, long_idle)
