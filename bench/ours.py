"""Our pipeline as the benchmark drives it: on a warm fleet, and cold through ``run_parse``.

Both take their options from ``plan_job``, the one plan of every entry point (``bench_plan``).
``WarmPipeline`` is the long-lived path (the Serve app, a notebook): one
fleet started once and waited for, then every run goes through
``run_on_fleet`` on k leased actors, with the progress actor counting, progress
read as a client would, and the results merged. ``run_parse_cold`` is the
one-shot path of the CLI: ``run_parse`` starts its own actors every time; the
difference between the two is the start-up cost, reported on its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from bench.baselines import Outcome
from pipeline.backends.base import BackendOptions
from pipeline.images import ImagePayload
from pipeline.parse import run_on_fleet, run_parse
from pipeline.plan import JobPlan, plan_job
from pipeline.pool import start_fleet
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions
from pipeline.schema import BatchProgress, ParseResponse
from pipeline.settings import get_settings

IMAGE_TIMEOUT_S = 60.0
STARTUP_TIMEOUT_S = 180.0


def outcome_of(response: ParseResponse) -> Outcome:
    """A ParseResponse as a contender Outcome: wall time, per-image times, failures."""
    return Outcome(
        wall_s=response.stats.total_processing_time / 1000,
        image_ms=[result.processing_time for result in response.results],
        failed=response.stats.failed_images,
    )


def _ignore_progress(snapshot: BatchProgress) -> None:
    """A consumer of progress that costs nothing itself (the reads are what we measure)."""


def bench_plan(backend: BackendOptions, workers: int, rate_limit: RateLimitOptions | None = None) -> JobPlan:
    """The plan a CLI run of ``workers`` workers gets (``plan_job``), with the bench's deadline and
    start-up allowance; no request budget unless the scenario sets one (the contenders have none)."""
    settings = get_settings()
    plan = plan_job(
        backend.kind, workers=workers, timeout_s=IMAGE_TIMEOUT_S, settings=settings, backend=backend
    )
    pool = plan.pool.model_copy(update={"startup_timeout_s": STARTUP_TIMEOUT_S})
    return replace(plan, pool=pool, rate_limit=rate_limit, scaling=None)


def pool_options(plan: JobPlan, k: int) -> PoolOptions:
    """The plan's pool for a run on k of its workers."""
    return plan.pool.model_copy(update={"workers": k})


class WarmPipeline:
    """Our pipeline on one fleet whose actors start once, before anything is timed."""

    def __init__(self, plan: JobPlan, size: int, *, read_progress: bool = True) -> None:
        started = time.perf_counter()
        self.plan = plan
        self.fleet = start_fleet(plan.backend, plan.worker, size, plan.rate_limit)
        self.fleet.wait_ready(self.fleet.actors, STARTUP_TIMEOUT_S)
        self.startup_s = time.perf_counter() - started
        self.on_progress = _ignore_progress if read_progress else None

    def run(self, payloads: Sequence[ImagePayload], k: int) -> ParseResponse:
        """One job on k leased actors; its stats time it from job creation to the merged response."""
        return run_on_fleet(self.fleet, payloads, pool_options(self.plan, k), on_progress=self.on_progress)

    def close(self) -> None:
        self.fleet.close()


def run_parse_cold(payloads: Sequence[ImagePayload], plan: JobPlan, k: int) -> ParseResponse:
    """``run_parse`` as the CLI calls it: it starts (and stops) its own actors."""
    return run_parse(
        payloads,
        plan.backend,
        pool_options=pool_options(plan, k),
        worker_options=plan.worker,
        on_progress=_ignore_progress,
        rate_limit=plan.rate_limit,
    )
