"""The thread that makes a fleet follow its load, by ``pipeline.autoscale.ScalingPolicy``.

A few times a second it samples the fleet (images waiting in its runs, leased and
free actors, the requests' moving latency), adds what the budget's limit in force
and the CPUs Ray has left allow, and asks the policy. Growth starts actors at once;
shrinking stops only free actors idle for ``idle_s`` (``WorkerFleet.retire``), so an
image in flight is never cancelled by scaling.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Any, Protocol

from pipeline.autoscale import FleetLoad, FleetScaling, ScalingPolicy
from pipeline.worker import WorkerOptions

log = logging.getLogger(__name__)

BUDGET_READ_EVERY_S = 5.0  # the budget's limit in force (set or learned) changes rarely
MAX_FAILED_STEPS = 40  # ten seconds of failed samples at the default pace: Ray is gone


class ScaledFleet(Protocol):
    """What the scaler needs of a fleet (``pipeline.runner.WorkerFleet``)."""

    scaling: FleetScaling
    worker_options: WorkerOptions
    limiter: Any  # the budget actor's handle, or None
    size: int
    target: int

    def load(self) -> tuple[FleetLoad, list[float]]: ...
    def starting(self) -> int: ...
    def grow(self, count: int) -> None: ...
    def retire(self, count: int) -> int: ...


class FleetScaler:
    """Samples one fleet and applies the policy's target, until the fleet closes."""

    def __init__(self, fleet: ScaledFleet, rate_window_s: float = 60.0) -> None:
        self.fleet = fleet
        self.policy = ScalingPolicy(fleet.scaling)
        self.rate_window_s = rate_window_s
        self.history: list[tuple[float, int]] = []  # (monotonic time, size) at each change
        self._rate: float | None = None
        self._budget_read = False  # until the budget answered once, the fleet does not grow
        self._rate_read_at = -math.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="karaoke-fleet-scale", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> FleetLoad:
        """One sample and its decision; returns the sample."""
        load, idle_for = self.fleet.load()
        load = dataclasses.replace(load, requests_per_s=self._requests_per_s(), cpu_room=self._cpu_room())
        target = self.policy.target(load)
        if self.fleet.limiter is not None and not self._budget_read:  # metered or not: unknown yet
            target = min(target, load.workers)
        self.fleet.target = target
        if target > load.workers:
            self.fleet.grow(target - load.workers)
        elif (count := self.policy.to_release(load, idle_for)) > 0:
            self.fleet.retire(count)
        size = self.fleet.size
        if not self.history or self.history[-1][1] != size:
            self.history.append((time.monotonic(), size))
            log.debug("fleet size %d (leased %d, images waiting %d)", size, load.leased, load.queued)
        return load

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.fleet.scaling.interval_s):
            try:
                self.step()
                failures = 0
            except Exception as exc:  # a hiccup of the GCS is skipped; Ray gone for good stops it
                failures += 1
                log.debug("fleet scaler step failed (%d in a row): %s", failures, exc)
                if failures >= MAX_FAILED_STEPS:
                    log.warning("fleet scaler stops after %d failed steps: %s", failures, exc)
                    return

    def _requests_per_s(self) -> float | None:
        """The budget's request limit in force, per second (None: not metered, or no budget)."""
        limiter = self.fleet.limiter
        if limiter is None:
            return None
        now = time.monotonic()
        if now - self._rate_read_at >= BUDGET_READ_EVERY_S:
            import ray

            try:
                rpm = ray.get(limiter.snapshot.remote(), timeout=2.0).rpm
            except Exception as exc:  # a starting or restarting budget: keep the last known limit
                log.debug("budget limit not read: %s", exc)
            else:
                self._rate_read_at, self._budget_read = now, True
                self._rate = rpm / self.rate_window_s if rpm else None
        return self._rate

    def _cpu_room(self) -> int:
        """Workers Ray could still place now: free CPUs over a worker's share, less the ones
        already starting (an actor Ray cannot place waits forever, without an error)."""
        import ray

        free = ray.available_resources().get("CPU", 0.0)
        share = self.fleet.worker_options.num_cpus
        return int(free / share + 1e-9) - self.fleet.starting()
