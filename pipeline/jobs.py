"""Parse jobs on a long-lived fleet: running them, their records, their files.

A server (the Serve replica) holds one ``WorkerFleet`` for its lifetime and
runs every request on it with ``pipeline.parse.run_on_fleet``; no
request pays to start actors.
``JobStore`` keeps one ``JobRecord`` per asynchronous job: live progress in
memory, and the record as JSON under ``<data dir>/jobs/`` when it is created
and when it ends, so finished results survive a restart until they expire.
``JobRunner`` ties the two together with a thread pool, because
``SupervisedPool.run`` blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Protocol

from pydantic import Field

from pipeline.backends.base import ExtractContext
from pipeline.cache import ResultCache
from pipeline.errors import JobCancelled
from pipeline.images import ImagePayload
from pipeline.job_store import JobRecord, JobStore, new_job_id
from pipeline.metrics import metrics
from pipeline.parse import run_on_fleet
from pipeline.ratelimit import Priority
from pipeline.runner import LEASE_STOP, PoolOptions, WorkerFleet
from pipeline.schema import ImageResult, ParseResponse, WireModel

log = logging.getLogger(__name__)


class RunObserver(Protocol):
    """Told when a run starts and ends (metrics, say); called from the run's thread."""

    def run_started(self, workers: int) -> None: ...

    def run_finished(self, workers: int, response: ParseResponse | None) -> None: ...


__all__ = [
    "JobCancelled",
    "JobRecord",
    "JobRunner",
    "JobStore",
    "RunObserver",
    "RunRequest",
    "new_job_id",
    "public_reason",
]


StopCheck = Callable[[], bool]


def public_reason(exc: Exception) -> str:
    """Why a job failed, in words safe to show a client: never Ray's internals (ids, pids, IPs)."""
    from ray.exceptions import RayError

    if isinstance(exc, RayError):
        return "a service of the cluster (progress or request budget) was unavailable; retry the job"
    return f"internal error ({type(exc).__name__}); see the server log"


class RunRequest(WireModel):
    """One request to parse: the intake items and how to run them."""

    items: list[ImagePayload | ImageResult]
    workers: int = Field(ge=1, le=5)
    context: ExtractContext | None = None
    admin: bool = False
    priority: Priority = Field(
        default="interactive", description="a user waits (interactive) or not (bulk): set by submit"
    )


class JobRunner:
    """Runs requests on one fleet, now (blocking) or as background jobs with records."""

    def __init__(
        self,
        fleet: WorkerFleet,
        store: JobStore,
        pool_options: PoolOptions,
        *,
        threads: int = 64,
        observer: RunObserver | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.fleet = fleet
        self.store = store
        self.pool_options = pool_options
        self.observer = observer
        self.cache = cache
        # SupervisedPool.run blocks a thread per request; runs beyond the fleet's size wait for a lease.
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="karaoke-job")

    def run_now(self, request: RunRequest, should_stop: StopCheck | None = None) -> ParseResponse:
        """Run one request to the end in the calling thread.

        Raises:
            JobCancelled: ``should_stop`` (a client that went away, say) said stop; no new
                image is dispatched after it does.
        """
        return self._observed(request, job_id=None, should_stop=should_stop)

    def submit(self, request: RunRequest, on_end: Callable[[], None] | None = None) -> JobRecord:
        """Start a background job; its record is returned at once (status ``queued``).

        ``on_end`` is called in the job's thread once it has ended, however it ended. An admin's
        job is bulk work: it draws on the budget after the interactive requests.
        """
        if request.admin:
            request = request.model_copy(update={"priority": "bulk"})
        record = self.store.create(len(request.items), admin=request.admin)
        metrics().job_count("queued", 1)
        self.executor.submit(self._run_recorded, record.job_id, request, on_end)
        return record

    def cancel(self, job_id: str) -> JobRecord | None:
        """Ask a queued or running job to stop; None when there is no such job."""
        return self.store.request_cancel(job_id)

    def close(self) -> None:
        """Stop taking work, cancel what is running and kill the fleet's actors."""
        for record in self.store.active():
            self.store.request_cancel(record.job_id)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        self.fleet.close()

    def _run_recorded(self, job_id: str, request: RunRequest, on_end: Callable[[], None] | None) -> None:
        try:
            self._run_to_end(job_id, request)
        finally:
            if on_end is not None:
                on_end()

    def _run_to_end(self, job_id: str, request: RunRequest) -> None:
        metrics().job_count("queued", -1)
        if self.store.cancel_requested(job_id):
            self.store.finish(job_id, "cancelled")
            return
        self.store.mark_running(job_id)
        metrics().job_count("running", 1)
        try:
            self._run_started_job(job_id, request)
        finally:
            metrics().job_count("running", -1)

    def _run_started_job(self, job_id: str, request: RunRequest) -> None:
        try:
            response = self._observed(
                request, job_id=job_id, should_stop=partial(self.store.cancel_requested, job_id)
            )
        except JobCancelled:
            self.store.finish(job_id, "cancelled")
            return
        except Exception as exc:  # a bug or a lost cluster: the job fails, the server carries on
            log.exception("job %s failed", job_id)
            self.store.finish(job_id, "failed", error=public_reason(exc))
            return
        self.store.finish(job_id, "done", result=response)

    def _observed(
        self, request: RunRequest, *, job_id: str | None, should_stop: StopCheck | None
    ) -> ParseResponse:
        """``run_on_fleet`` with the observer told; a recorded job (with an id) reports progress."""
        if self.observer is not None:
            self.observer.run_started(request.workers)
        response: ParseResponse | None = None
        stop_token = LEASE_STOP.set(should_stop)  # a run still waiting for workers stops too
        try:
            response = run_on_fleet(
                self.fleet,
                request.items,
                self.pool_options.model_copy(update={"workers": request.workers}),
                job_id=job_id,
                context=request.context,
                on_progress=partial(self.store.update_progress, job_id) if job_id else None,
                should_stop=should_stop,
                cache=self.cache,
                priority=request.priority,
            )
            return response
        finally:
            LEASE_STOP.reset(stop_token)
            if self.observer is not None:
                self.observer.run_finished(request.workers, response)
