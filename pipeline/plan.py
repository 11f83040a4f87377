"""One plan for every entry point: ``JobPlan`` and the one function that builds it.

The CLI (``parse``, ``batch``), the ``up`` daemon, Serve, ``eval`` and the benchmarks all
build a job's options with ``plan_job``, so a rule such as "Gemini's pool waits its grace
beyond the backend's own deadline" or "all Gemini calls share one budget" lives here once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pipeline.autoscale import FleetScaling
from pipeline.backends.base import BackendOptions, options_for
from pipeline.pool_options import PoolOptions
from pipeline.ratelimit import RateLimitOptions
from pipeline.settings import Settings
from pipeline.worker import WorkerOptions


@dataclass(frozen=True)
class JobPlan:
    """Every option of one job, derived from the few a user gives."""

    backend: BackendOptions
    pool: PoolOptions
    worker: WorkerOptions
    rate_limit: RateLimitOptions | None = None
    scaling: FleetScaling | None = None  # None: the fleet is pinned at the pool's size

    def fingerprint(self) -> str:
        """The parts a warm worker is built from, as stable JSON: the same plan, the same actors."""
        return self.backend.model_dump_json() + self.worker.model_dump_json()

    def warm_fleet_name(self) -> str:
        """The name prefix of the warm fleet (``karaoke-pipeline up``) that serves this plan."""
        return "karaoke-warm-" + hashlib.sha256(self.fingerprint().encode()).hexdigest()[:12]


def plan_job(
    kind: str,
    *,
    workers: int,
    timeout_s: float | None,
    settings: Settings,
    large_pool: bool = False,
    backend: BackendOptions | None = None,
) -> JobPlan:
    """Options for a job on ``kind`` with ``workers`` workers and a per-image deadline.

    The backend says how it adapts (local OCR workers split this machine's
    cores; Gemini workers get the deadline) and which metered budget it draws
    on: every caller of this plan shares that one budget. ``timeout_s`` None: the
    backend's default deadline.
    """
    backend = backend or options_for(kind)
    timeout_s = backend.default_timeout_s if timeout_s is None else timeout_s
    backend = backend.for_job(workers=workers, timeout_s=timeout_s)
    backend.require_usable()
    limits = {"max_pixels": settings.max_image_pixels, "max_bytes": settings.max_image_bytes}
    # an I/O-bound backend's workers take its small share (five fit on two cores beside a replica)
    share = {"num_cpus": backend.io_bound_cpu_share} if backend.io_bound_cpu_share else {}
    worker = WorkerOptions(**limits, **share)
    pool = PoolOptions(
        workers=workers, image_timeout_s=backend.pool_deadline_s(timeout_s), large_pool=large_pool
    )
    return JobPlan(backend, pool, worker, backend.rate_limit(settings), fleet_scaling(workers, settings))


def fleet_scaling(workers: int, settings: Settings) -> FleetScaling:
    """A fleet of up to ``workers`` that follows the load (from one worker, releasing the ones idle
    for ``KARAOKE_FLEET_IDLE_S``); with ``KARAOKE_AUTOSCALE=0``, pinned at ``workers``.

    ``workers`` stays each run's own limit too (the 1-5 of a request); how many of them are
    useful is the fleet's business (``pipeline.autoscale``)."""
    if not settings.autoscale:
        return FleetScaling.pinned(workers)
    return FleetScaling(min_workers=1, max_workers=workers, idle_s=settings.fleet_idle_s)
