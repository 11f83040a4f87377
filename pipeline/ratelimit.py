"""One request budget for a whole cluster: requests per minute and in-flight workers.

``RequestBudget`` is pure (tested without Ray); ``get_rate_limiter`` gives the
cluster's one named actor around it. Workers reserve a slot before every API
attempt and sleep until it (the actor never blocks), so no sliding window of
``window_s`` seconds ever holds more than ``rpm`` requests from this cluster.

429s also lower how many workers a pool keeps busy (halved on each 429, never
below one) and a run of successes raises it again by one: graceful
degradation, then recovery (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import WireModel

if TYPE_CHECKING:
    from ray.actor import ActorHandle

RATE_LIMITER_NAME = "karaoke-rate-limiter"
RATE_LIMITER_NAMESPACE = "karaoke-pipeline"


class RateLimitOptions(BaseModel):
    """The API's limits, as configured (they differ by tier: treat them as settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rpm: int = Field(default=1000, ge=1, description="requests per window for the whole cluster")
    window_s: float = Field(default=60.0, gt=0, description="length of the rate window, seconds")
    margin_s: float = Field(
        default=0.5,
        ge=0,
        description="extra spacing for the time between a reserved slot and the request reaching the API",
    )
    max_workers: int = Field(default=5, ge=1, description="the most workers a pool may keep busy")
    recovery_successes: int = Field(
        default=10, ge=1, description="successes in a row that raise the worker cap by one after a 429"
    )


class BudgetStats(WireModel):
    granted: int = 0
    rate_limited: int = 0
    worker_cap: int = 0


class RequestBudget:
    """Sliding-window slots plus an AIMD cap on busy workers."""

    def __init__(self, options: RateLimitOptions, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._clock = clock
        self._granted: deque[float] = deque(maxlen=options.rpm)  # only the last rpm slots matter
        self._not_before = 0.0
        self._cap = options.max_workers
        self._successes = 0
        self.stats = BudgetStats(worker_cap=self._cap)

    def reserve(self) -> float:
        """Reserve the next free slot; the seconds the caller must wait before sending."""
        now = self._clock()
        slot = max(now, self._not_before)
        if len(self._granted) == self.options.rpm:  # slot i waits for slot i - rpm to leave the window
            slot = max(slot, self._granted[0] + self.options.window_s + self.options.margin_s)
        self._granted.append(slot)
        self.stats.granted += 1
        return slot - now

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429 arrived: hold new slots until ``retry_after`` and halve the worker cap."""
        if retry_after:
            self._not_before = max(self._not_before, self._clock() + retry_after)
        self._cap = max(1, self._cap // 2)
        self._successes = 0
        self.stats.rate_limited += 1
        self.stats.worker_cap = self._cap

    def succeeded(self) -> None:
        """A request went through; enough of them in a row raise the cap by one."""
        self._successes += 1
        if self._successes >= self.options.recovery_successes and self._cap < self.options.max_workers:
            self._cap += 1
            self._successes = 0
            self.stats.worker_cap = self._cap

    def worker_cap(self, wanted: int) -> int:
        """How many of ``wanted`` workers a pool may keep busy now."""
        return max(1, min(wanted, self._cap))

    def snapshot(self) -> BudgetStats:
        return self.stats.model_copy()


class RateLimiterActor:
    """Body of the named actor: one RequestBudget behind Ray method calls."""

    def __init__(self, options: RateLimitOptions) -> None:
        self.budget = RequestBudget(options)

    def reserve(self) -> float:
        return self.budget.reserve()

    def rate_limited(self, retry_after: float | None) -> None:
        self.budget.rate_limited(retry_after)

    def succeeded(self) -> None:
        self.budget.succeeded()

    def worker_cap(self, wanted: int) -> int:
        return self.budget.worker_cap(wanted)

    def snapshot(self) -> BudgetStats:
        return self.budget.snapshot()


def get_rate_limiter(options: RateLimitOptions) -> ActorHandle:
    """The cluster's one rate limiter for these limits, created on first use.

    Jobs with the same limits share one budget; the name carries the limits so
    a job with other limits never silently inherits a budget sized for another.
    """
    import ray

    name = f"{RATE_LIMITER_NAME}-{options.rpm}per{options.window_s:g}s-{options.max_workers}w"
    actor_class = ray.remote(num_cpus=0)(RateLimiterActor)
    return actor_class.options(name=name, namespace=RATE_LIMITER_NAMESPACE, get_if_exists=True).remote(
        options
    )
