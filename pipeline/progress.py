"""Progress of a batch: the arithmetic (pure) and the named progress actor.

``ProgressTracker`` holds the counts of one job and computes BatchProgress;
it is tested without Ray. ``ProgressActor`` keeps one tracker per job id and
is shared by every worker of a cluster under one name. Results are recorded
by image index, so a report that arrives twice (a worker that finished and
then died, and the retry that finished again) is counted once.
``BatchApiProgress`` is the same for a run of ``batch --via gemini-batch``:
each Batch API job's state, published by ``publish_batch_api``.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.schema import BatchApiJob, BatchProgress, JobStatus

if TYPE_CHECKING:
    from ray.actor import ActorHandle

PROGRESS_ACTOR_NAME = "karaoke-progress"
PROGRESS_NAMESPACE = "karaoke-pipeline"


@dataclass
class _Outcome:
    ok: bool
    processing_ms: float


@dataclass
class ProgressTracker:
    """Counts of one job; ``snapshot`` turns them into a BatchProgress."""

    job_id: str
    total_images: int
    batch_size: int = 1
    clock: Any = field(default=time.monotonic, repr=False)
    status: JobStatus = "queued"
    retries: int = 0
    _outcomes: dict[int, _Outcome] = field(default_factory=dict)
    _active: set[str] = field(default_factory=set)
    _started: float | None = None
    _started_at: dt.datetime | None = None
    _ended: float | None = None
    _next_slot_at: dt.datetime | None = None
    _fleet: tuple[int, int] = (0, 0)  # the fleet's size now, and its max

    def fleet_size(self, workers: int, max_workers: int) -> None:
        """The fleet the job runs on has ``workers`` actors now, and may grow to ``max_workers``."""
        self._fleet = (workers, max_workers)

    def waiting_for_quota(self, next_slot_at: dt.datetime | None) -> None:
        """Images wait for a rate-limit slot until ``next_slot_at`` (None: none waits)."""
        self._next_slot_at = next_slot_at

    def start(self) -> None:
        if self._started is None:
            self._started = self.clock()
            self._started_at = dt.datetime.now(dt.UTC)
            self.status = "running"

    def image_started(self, worker_id: str) -> None:
        self.start()
        self._active.add(worker_id)

    def image_finished(
        self, index: int, *, ok: bool, processing_ms: float, worker_id: str | None = None
    ) -> None:
        """Record the outcome of image ``index``; a later report replaces an earlier one."""
        self.start()
        self._outcomes[index] = _Outcome(ok, processing_ms)
        if worker_id is not None:
            self._active.discard(worker_id)

    def worker_gone(self, worker_id: str) -> None:
        self._active.discard(worker_id)

    def add_retry(self) -> None:
        self.retries += 1

    def finish(self, status: JobStatus) -> None:
        self.status = status
        self._active.clear()
        self._next_slot_at = None
        if self._ended is None:
            self._ended = self.clock()

    def snapshot(self) -> BatchProgress:
        processed = len(self._outcomes)
        failed = sum(1 for outcome in self._outcomes.values() if not outcome.ok)
        remaining = max(self.total_images - processed, 0)
        total_batches = math.ceil(self.total_images / self.batch_size) if self.total_images else 0
        return BatchProgress(
            job_id=self.job_id,
            status=self.status,
            total_images=self.total_images,
            processed_images=processed,
            remaining_images=remaining,
            failed_images=failed,
            succeeded_images=processed - failed,
            current_batch=min(total_batches, processed // self.batch_size + 1)
            if remaining
            else total_batches,
            total_batches=total_batches,
            average_time_per_image=self._average_ms(),
            estimated_time_remaining=self._eta_ms(processed, remaining),
            retries=self.retries,
            active_workers=len(self._active),
            fleet_workers=self._fleet[0],
            max_workers=self._fleet[1],
            waiting_for_quota=self._next_slot_at is not None and self.status == "running",
            next_slot_at=self._next_slot_at if self.status == "running" else None,
            started_at=self._started_at,
            updated_at=dt.datetime.now(dt.UTC),
        )

    def _average_ms(self) -> float:
        if not self._outcomes:
            return 0.0
        return sum(o.processing_ms for o in self._outcomes.values()) / len(self._outcomes)

    def _eta_ms(self, processed: int, remaining: int) -> float:
        """Remaining images at the throughput measured so far (wall time per image)."""
        if self._started is None or processed == 0 or remaining == 0:
            return 0.0
        elapsed_ms = ((self._ended or self.clock()) - self._started) * 1000
        return elapsed_ms / processed * remaining


BATCH_API_STATES = ("creating", "pending", "running", "succeeded", "failed", "cancelled", "expired")
BATCH_API_ENDED = frozenset(BATCH_API_STATES[3:])


@dataclass
class BatchApiProgress:
    """A Batch API run: each job's state and the images answered so far (pure, like the tracker).

    ``line`` is the CLI's line, ``snapshot`` the run's BatchProgress, ``jobs_by_state`` and
    ``images_by_state`` what the metrics show. ``images``: every image this run handles (answered
    at intake, or carried by a job it waits on); ``online``: those left to the online path.
    """

    job_id: str = ""
    jobs: dict[str, BatchApiJob] = field(default_factory=dict)  # by display name
    images: int = 0
    answered: int = 0
    failed: int = 0
    online: int = 0
    status: JobStatus = "running"
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def job(self, display_name: str, state: str, name: str | None = None, images: int | None = None) -> None:
        """Record a job's state (and its name, or how many images it carries, when known)."""
        job = self.jobs.setdefault(display_name, BatchApiJob(display_name=display_name, state=state))
        job.state, job.name = state, name or job.name
        if images is not None:
            job.images = images

    def jobs_by_state(self) -> dict[str, int]:
        return {state: sum(job.state == state for job in self.jobs.values()) for state in BATCH_API_STATES}

    def images_by_state(self) -> dict[str, int]:
        """Images by the state of the job that carries them."""
        counts = dict.fromkeys(BATCH_API_STATES, 0)
        for job in self.jobs.values():
            counts[job.state] = counts.get(job.state, 0) + job.images
        return counts

    def line(self) -> str:
        states = ", ".join(f"{n} {state}" for state, n in sorted(self.jobs_by_state().items()) if n)
        jobs = len(self.jobs)
        return (
            f"{jobs} Batch API job{'' if jobs == 1 else 's'} ({states or 'none'}); "
            f"{self.answered} answered, {self.failed} failed, {self.online} left for the online path"
        )

    def snapshot(self) -> BatchProgress:
        processed = self.answered + self.failed
        return BatchProgress(
            job_id=self.job_id,
            status=self.status,
            total_images=max(self.images, processed),
            processed_images=processed,
            remaining_images=max(self.images - processed, 0),
            failed_images=self.failed,
            succeeded_images=self.answered,
            current_batch=sum(job.state in BATCH_API_ENDED for job in self.jobs.values()),
            total_batches=len(self.jobs),
            started_at=self.started_at,
            updated_at=dt.datetime.now(dt.UTC),
            batch_api_jobs=[job.model_copy() for job in self.jobs.values()],
        )


def publish_batch_api(progress: BatchApiProgress) -> None:
    """The run's BatchProgress to the progress actor, its jobs to the metrics: only with Ray up.

    The Batch API path needs no Ray; with none imported this costs nothing.
    """
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return
    from pipeline.metrics import metrics

    get_progress_actor().publish.remote(progress.snapshot())  # fire and forget, as the workers do
    running = progress.status == "running"  # an ended run's jobs leave the gauges
    jobs, images = (progress.jobs_by_state(), progress.images_by_state()) if running else ({}, {})
    metrics().batch_api_jobs(progress.job_id, jobs, images)


class ProgressBoard:
    """The latest published BatchProgress of each job; the body of the progress actor.

    Drivers keep the counts of their own jobs (a ``ProgressTracker``) and
    publish whole snapshots, so a restarted actor is whole again at the next
    publish and no result ever waits on it.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, BatchProgress] = {}

    def publish(self, snapshot: BatchProgress) -> None:
        self._jobs[snapshot.job_id] = snapshot

    def get(self, job_id: str) -> BatchProgress | None:
        return self._jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def ping(self) -> bool:
        return True


def get_progress_actor() -> ActorHandle:
    """The cluster's one progress actor, created on first use (get-or-create by name).

    It lives on the head node and is restarted if it dies; callers only ever
    send it snapshots (fire and forget) or read one.
    """
    import ray

    from pipeline.budget_actor import head_node_options

    return (
        ray.remote(ProgressBoard)
        .options(
            name=PROGRESS_ACTOR_NAME, namespace=PROGRESS_NAMESPACE, get_if_exists=True, **head_node_options()
        )
        .remote()
    )
