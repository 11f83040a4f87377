"""Our pipeline as the benchmark drives it: on a warm fleet, and cold through ``run_parse``.

``WarmPipeline`` is the long-lived path (the Serve app, a notebook): one
``WorkerFleet`` started once and waited for, then every run goes through
``run_on_fleet`` on k leased actors, with the progress actor counting, progress
read as a client would, and the results merged. ``run_parse_cold`` is the
one-shot path of the CLI: ``run_parse`` starts its own actors every time; the
difference between the two is the start-up cost, reported on its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.baselines import Outcome
from pipeline.backends.base import BackendOptions
from pipeline.images import ImagePayload
from pipeline.parse import run_on_fleet, run_parse
from pipeline.progress import get_progress_actor
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import BatchProgress, ParseResponse
from pipeline.worker import WorkerOptions

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


def pool_options(k: int) -> PoolOptions:
    return PoolOptions(workers=k, image_timeout_s=IMAGE_TIMEOUT_S, startup_timeout_s=STARTUP_TIMEOUT_S)


class WarmPipeline:
    """Our pipeline on one fleet whose actors start once, before anything is timed."""

    def __init__(
        self,
        backend_options: BackendOptions,
        worker_options: WorkerOptions,
        size: int,
        *,
        read_progress: bool = True,
    ) -> None:
        started = time.perf_counter()
        self.fleet = WorkerFleet(backend_options, worker_options, size, get_progress_actor())
        self.fleet.wait_ready(self.fleet.actors, STARTUP_TIMEOUT_S)
        self.startup_s = time.perf_counter() - started
        self.on_progress = _ignore_progress if read_progress else None

    def run(self, payloads: Sequence[ImagePayload], k: int) -> ParseResponse:
        """One job on k leased actors; its stats time it from job creation to the merged response."""
        return run_on_fleet(self.fleet, payloads, pool_options(k), on_progress=self.on_progress)

    def close(self) -> None:
        self.fleet.close()


def run_parse_cold(
    payloads: Sequence[ImagePayload],
    backend_options: BackendOptions,
    worker_options: WorkerOptions,
    k: int,
    rate_limit: RateLimitOptions | None = None,
) -> ParseResponse:
    """``run_parse`` as the CLI calls it: it starts (and stops) its own actors."""
    return run_parse(
        payloads,
        backend_options,
        pool_options=pool_options(k),
        worker_options=worker_options,
        on_progress=_ignore_progress,
        rate_limit=rate_limit,
    )
