"""One parse job end to end: intake, the supervised pool, streaming merge, stats.

``run_on_fleet`` is the core, shared by the CLI's ``parse`` (on a fleet of its
own, via ``run_parse``) and the Serve app (on a replica's long-lived fleet).
If Ray cannot start, the same work runs in this process, one image at a time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.autoscale import FleetScaling
from pipeline.backends.base import BackendOptions
from pipeline.cache import ResultCache, cache_key
from pipeline.errors import ImageRejected, JobCancelled
from pipeline.images import ImagePayload, read_base64, read_bytes, read_path
from pipeline.metrics import metrics
from pipeline.pool import SupervisedPool, start_fleet
from pipeline.progress import ProgressTracker
from pipeline.ratelimit import Priority, RateLimitOptions, RequestBudget
from pipeline.reduce import ScheduleReducer
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import (
    BatchProgress,
    ExtractContext,
    ImageResult,
    JobStatus,
    ParsedSchedule,
    ParseResponse,
    ParseStats,
    Usage,
)
from pipeline.sequential import send_until_done
from pipeline.settings import get_settings
from pipeline.worker import ImageProcessor, ImageTask, WorkerOptions, cached_result, failed_result

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

ImageInput = str | bytes | Path
ProgressCallback = Callable[[BatchProgress], None]
StopCheck = Callable[[], bool]


def intake(inputs: Sequence[ImageInput], *, max_bytes: int) -> list[ImagePayload | ImageResult]:
    """Read every input; an unusable one becomes a failed ImageResult in its place."""
    items: list[ImagePayload | ImageResult] = []
    for index, item in enumerate(inputs):
        try:
            items.append(_read_one(item, index, max_bytes))
        except ImageRejected as exc:
            source = str(item) if isinstance(item, Path) else f"image-{index}"
            placeholder = ImagePayload(index=index, source=source, data=b"", sha256="")
            result = failed_result(placeholder, exc.code, exc.message)
            result.sha256 = None
            items.append(result)
    return items


def _read_one(item: ImageInput, index: int, max_bytes: int) -> ImagePayload:
    if isinstance(item, Path):
        return read_path(item, index, max_bytes=max_bytes)
    if isinstance(item, bytes):
        return read_bytes(item, index, max_bytes=max_bytes)
    return read_base64(item, index, max_bytes=max_bytes)


def run_parse(
    items: Sequence[ImagePayload | ImageResult],
    backend_options: BackendOptions,
    *,
    pool_options: PoolOptions,
    worker_options: WorkerOptions,
    context: ExtractContext | None = None,
    use_ray: bool = True,
    on_progress: ProgressCallback | None = None,
    cache: ResultCache | None = None,
    rate_limit: RateLimitOptions | None = None,
    warm: tuple[str, int] | None = None,
    priority: Priority = "interactive",
    scaling: FleetScaling | None = None,
) -> ParseResponse:
    """Process intake items into one ParseResponse (results in input order), on a fleet of its own.

    Images found in ``cache`` cost no backend call; ``rate_limit`` bounds the
    API calls of every worker of the cluster together; ``warm`` (name, size)
    leases the warm fleet of ``karaoke-pipeline up`` instead of starting one; ``scaling``: the
    bounds the fleet follows the load within (None: pinned).
    Without Ray the same work runs in this process, one image at a time.
    """
    if not use_ray:
        job = _prepare(items, backend_options, None, context, cache, on_progress)
        started = time.perf_counter()
        budget = RequestBudget(rate_limit) if rate_limit is not None else None
        processed, merged = _run_in_process(job, backend_options, worker_options, budget)
        return _respond(items, job, processed, merged, 1 if job.tasks else 0, started)
    payloads = sum(1 for item in items if isinstance(item, ImagePayload))
    size = min(pool_options.workers, max(payloads, 1))
    if warm is not None:
        name, size = warm
        fleet = start_fleet(backend_options, worker_options, size, rate_limit, named=name)
    else:
        fleet = start_fleet(backend_options, worker_options, size, rate_limit, scaling=scaling)
    try:
        return run_on_fleet(
            fleet,
            items,
            pool_options,
            context=context,
            on_progress=on_progress,
            cache=cache,
            priority=priority,
        )
    finally:
        fleet.close()


def run_on_fleet(
    fleet: WorkerFleet,
    items: Sequence[ImagePayload | ImageResult],
    pool_options: PoolOptions,
    *,
    job_id: str | None = None,
    context: ExtractContext | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    cache: ResultCache | None = None,
    priority: Priority = "interactive",
) -> ParseResponse:
    """Process intake items on actors leased from a long-lived ``fleet`` (a server's, say).

    Progress is counted here and published to the fleet's progress actor (when
    it has one); it covers every input, including those refused at intake or
    answered by the cache. ``priority`` bulk: the run draws on the budget after
    interactive work (an admin's job, say).

    Raises:
        JobCancelled: ``should_stop`` returned True before every image was done.
    """
    job = _prepare(items, fleet.backend_options, job_id, context, cache, on_progress)
    job.tasks = [task.model_copy(update={"priority": priority}) for task in job.tasks]
    workers = min(pool_options.workers, max(len(job.tasks), 1))
    started = time.perf_counter()
    sized = pool_options.model_copy(update={"workers": workers})
    processed, merged = _run_job(fleet, job, sized, should_stop)
    response = _respond(items, job, processed, merged, workers if job.tasks else 0, started)
    metrics().response(response)
    return response


def _prepare(
    items: Sequence[ImagePayload | ImageResult],
    backend_options: BackendOptions,
    job_id: str | None,
    context: ExtractContext | None,
    cache: ResultCache | None,
    on_progress: ProgressCallback | None,
) -> _Job:
    """Split the items into work to do and results already known (refused or cached)."""
    job_id = job_id or uuid.uuid4().hex[:12]
    payloads = [item for item in items if isinstance(item, ImagePayload)]
    identity = backend_options.cache_identity(context) if cache is not None else None
    cached = _cached_results(cache, payloads, identity)
    tasks = [
        ImageTask(job_id=job_id, payload=payload, context=context)
        for payload in payloads
        if payload.index not in cached
    ]
    known = [item for item in items if isinstance(item, ImageResult)] + list(cached.values())
    sink = _ResultSink(cache, identity, {payload.sha256: payload.data for payload in payloads})
    return _Job(job_id, tasks, known, sink, on_progress, backend_options)


def _respond(
    items: Sequence[ImagePayload | ImageResult],
    job: _Job,
    processed: list[ImageResult],
    merged: ParsedSchedule,
    workers: int,
    started: float,
) -> ParseResponse:
    wall_ms = (time.perf_counter() - started) * 1000
    by_index = {result.image_index: result for result in [*processed, *job.known]}
    # a missing result is a bug in the pool: by_index[...] fails loudly rather than losing an image
    results = [by_index[item.image_index if isinstance(item, ImageResult) else item.index] for item in items]
    return build_response(results, merged, workers, wall_ms, job.backend_options)


def _cached_results(
    cache: ResultCache | None, payloads: list[ImagePayload], identity: str | None
) -> dict[int, ImageResult]:
    """Results served from the cache, exact or near-copies, by image index (empty without a cache
    or an identity)."""
    found: dict[int, ImageResult] = {}
    if cache is None or identity is None:
        return found
    for payload in payloads:
        hit = cache.lookup(payload.sha256, payload.data, identity)
        if hit is not None:
            found[payload.index] = cached_result(payload, hit.schedule, hit.similar_to)
    return found


class _ResultSink:
    """Stores each fresh successful result in the cache as it arrives."""

    def __init__(self, cache: ResultCache | None, identity: str | None, images: dict[str, bytes]) -> None:
        self.cache = cache
        self.identity = identity
        self.images = images  # by sha256: the bytes a result's fingerprint is taken from

    def store(self, result: ImageResult) -> None:
        if self.cache is None or self.identity is None or result.status != "ok" or result.sha256 is None:
            return
        image = self.images.get(result.sha256)
        self.cache.put(cache_key(result.sha256, self.identity), result.sha256, result.data, image)


@dataclass
class _Job:
    """One parse job: the work to do, the results already known, where results go."""

    job_id: str
    tasks: list[ImageTask]
    known: list[ImageResult]
    sink: _ResultSink
    on_progress: ProgressCallback | None
    backend_options: BackendOptions

    @property
    def total(self) -> int:
        return len(self.tasks) + len(self.known)

    def start_reducer(self) -> ScheduleReducer:
        """A streaming reducer that already holds the known successful results.

        Results reach this process anyway, so they are merged here as they
        arrive rather than shipped on to a reducer actor.
        """
        reducer = ScheduleReducer()
        for result in self.known:
            if result.success:
                reducer.add(result.data, result.source)
        return reducer

    def record(self, result: ImageResult, reducer: ScheduleReducer) -> None:
        self.sink.store(result)
        if result.success:
            reducer.add(result.data, result.source)


def _run_job(
    fleet: WorkerFleet,
    job: _Job,
    pool_options: PoolOptions,
    should_stop: StopCheck | None,
) -> tuple[list[ImageResult], ParsedSchedule]:
    """Run the job's tasks on the fleet; this driver keeps the progress and publishes it."""
    tracker = _start_tracker(job, pool_options.workers)
    publisher = _Publisher(fleet.progress, tracker, job.on_progress)
    reducer = job.start_reducer()
    status: JobStatus = "failed"
    try:
        results = SupervisedPool(fleet, pool_options).run(
            job.tasks,
            on_result=lambda result: job.record(result, reducer),
            on_tick=_ticker(publisher, job.job_id, should_stop),
            tracker=tracker,
        )
        status = "done"
    except JobCancelled:
        status = "cancelled"
        raise
    finally:
        tracker.finish(status)
        publisher.publish(final=True)
    return results, reducer.result()


def _start_tracker(job: _Job, workers: int) -> ProgressTracker:
    tracker = ProgressTracker(job.job_id, job.total, max(workers, 1))
    tracker.start()
    for result in job.known:
        tracker.image_finished(result.image_index, ok=result.success, processing_ms=0.0)
    return tracker


class _Publisher:
    """Sends the driver's progress to the cluster's progress actor (fire and forget) and the caller."""

    def __init__(
        self, progress: ActorHandle | None, tracker: ProgressTracker, on_progress: ProgressCallback | None
    ) -> None:
        self.progress = progress
        self.tracker = tracker
        self.on_progress = on_progress

    def publish(self, final: bool = False) -> None:
        snapshot = self.tracker.snapshot()
        if self.on_progress is not None:
            self.on_progress(snapshot)
        if self.progress is None:
            return
        try:  # bookkeeping never costs a result: a lost or restarting actor is only logged
            self.progress.publish.remote(snapshot)
            if final:
                self.progress.forget.remote(snapshot.job_id)
        except Exception as exc:
            log.warning("progress of job %s not published: %s", snapshot.job_id, exc)


def _ticker(publisher: _Publisher, job_id: str, should_stop: StopCheck | None) -> Callable[[], None]:
    """The pool's tick: publish the progress, and stop the run when asked to."""

    def tick() -> None:
        if should_stop is not None and should_stop():
            raise JobCancelled(f"job {job_id} was cancelled")
        publisher.publish()

    return tick


def _run_in_process(
    job: _Job, backend_options: BackendOptions, worker_options: WorkerOptions, budget: RequestBudget | None
) -> tuple[list[ImageResult], ParsedSchedule]:
    """The fallback: the same processing and send rules, one image at a time, no Ray."""
    tracker = _start_tracker(job, 1)
    publisher = _Publisher(None, tracker, job.on_progress)
    reducer = job.start_reducer()
    results = []
    processor = ImageProcessor(backend_options, worker_options, "in-process") if job.tasks else None
    for task in job.tasks:
        assert processor is not None
        tracker.image_started(processor.worker_id)
        tokens = backend_options.estimate_input_tokens(None, None)
        result = send_until_done(processor, task, backend_options.retry_policy(), budget, tokens)
        tracker.image_finished(
            result.image_index,
            ok=result.success,
            processing_ms=result.processing_time,
            worker_id=processor.worker_id,
        )
        results.append(result)
        job.record(result, reducer)
        publisher.publish()
    if budget is not None:
        budget.flush()
    tracker.finish("done")
    publisher.publish(final=True)
    return results, reducer.result()


def build_response(
    results: list[ImageResult],
    merged: ParsedSchedule,
    workers: int,
    wall_ms: float,
    backend_options: BackendOptions | None = None,
) -> ParseResponse:
    """The response for results in input order, with measured stats, tokens and their cost.

    ``maxConcurrentWorkers`` counts the workers that really took images (a warm fleet may
    be smaller than the ``workers`` asked for, and a slow start may leave one idle), at most
    ``workers``: a replacement for a crashed worker is not one more at once.
    """
    succeeded = sum(1 for r in results if r.success)
    took = {r.worker for r in results if r.worker is not None}
    busy_ms = sum(r.processing_time for r in results)
    usage = sum((r.usage for r in results if r.usage is not None), Usage())
    cost = backend_options.estimated_cost(usage, get_settings()) if backend_options is not None else 0.0
    stats = ParseStats(
        total_images=len(results),
        successful_images=succeeded,
        failed_images=len(results) - succeeded,
        cached_images=sum(1 for r in results if r.status == "cached"),
        retries=sum(max(r.attempts - 1, 0) for r in results),
        max_concurrent_workers=min(workers, len(took)),
        total_processing_time=wall_ms,
        average_processing_time=busy_ms / len(results) if results else 0.0,
        speedup=busy_ms / wall_ms if wall_ms > 0 else 0.0,
        prompt_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        thinking_tokens=usage.thinking_tokens,
        estimated_cost=cost,
    )
    return ParseResponse(success=succeeded > 0, data=merged, results=results, stats=stats)
