"""One parse job end to end: intake, the supervised pool, streaming merge, stats.

``run_on_fleet`` is the core, shared by the CLI's ``parse`` (on a fleet of its
own, via ``run_parse``) and the Serve app (on a replica's long-lived fleet).
If Ray cannot start, the same work runs in this process, one image at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.backends.base import BackendOptions, ExtractContext, LocalOptions, options_for
from pipeline.backends.gemini import GeminiOptions
from pipeline.cache import ResultCache, cache_key
from pipeline.errors import ConfigError, ImageRejected, JobCancelled
from pipeline.images import ImagePayload, read_base64, read_bytes, read_path
from pipeline.progress import ProgressBoard, get_progress_actor
from pipeline.ratelimit import RateLimitOptions, get_rate_limiter
from pipeline.reduce import ScheduleReducer
from pipeline.runner import PoolOptions, SupervisedPool, WorkerFleet
from pipeline.schema import BatchProgress, ImageResult, JobStatus, ParsedSchedule, ParseResponse, ParseStats
from pipeline.settings import Settings
from pipeline.worker import ImageProcessor, ImageTask, WorkerOptions, failed_result

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


@contextlib.contextmanager
def ray_runtime(address: str | None = None) -> Iterator[bool]:
    """Yield True with Ray connected (started locally when no address), else False.

    Shuts down only a Ray this function started itself.
    """
    import ray

    if ray.is_initialized():
        yield True
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            temp_dir = tempfile.mkdtemp(prefix="karaoke-ray-")
            ray.init(
                address="local",
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                _node_ip_address="127.0.0.1",
                _temp_dir=temp_dir,
            )
    except Exception as exc:  # Ray refuses to start for many reasons; we degrade, not crash
        log.warning("Ray could not start (%s); processing in this process, one image at a time", exc)
        yield False
        return
    try:
        yield True
    finally:
        ray.shutdown()


# The pool waits this much longer than a backend's own per-image deadline, so a
# backend that gives up on time reports its own cause instead of a bare timeout.
DEADLINE_GRACE_S = 5.0


@dataclass(frozen=True)
class JobPlan:
    """Every option of one job, derived from the few a user gives."""

    backend: BackendOptions
    pool: PoolOptions
    worker: WorkerOptions
    rate_limit: RateLimitOptions | None = None


def plan_job(
    kind: str, *, workers: int, timeout_s: float, settings: Settings, large_pool: bool = False
) -> JobPlan:
    """Options for a job on ``kind`` with ``workers`` workers and a per-image deadline.

    Local OCR workers split this machine's cores between them (one worker alone
    uses them all); Gemini workers share one cluster-wide request budget.
    """
    backend = options_for(kind)
    worker = WorkerOptions(max_pixels=settings.max_image_pixels, max_bytes=settings.max_image_bytes)
    if isinstance(backend, LocalOptions):
        backend = backend.sized_for(workers)
    if isinstance(backend, GeminiOptions):
        if backend.api_key is None:
            raise ConfigError("the gemini backend needs an API key: set GEMINI_API_KEY or GOOGLE_API_KEY")
        backend = backend.model_copy(update={"image_deadline_s": timeout_s})
        pool = PoolOptions(
            workers=workers, image_timeout_s=timeout_s + DEADLINE_GRACE_S, large_pool=large_pool
        )
        return JobPlan(backend, pool, worker, RateLimitOptions(rpm=settings.gemini_rpm, max_workers=workers))
    return JobPlan(
        backend, PoolOptions(workers=workers, image_timeout_s=timeout_s, large_pool=large_pool), worker
    )


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
) -> ParseResponse:
    """Process intake items into one ParseResponse (results in input order), on a fleet of its own.

    Images found in ``cache`` cost no backend call; ``rate_limit`` bounds the
    API calls of every worker of the cluster together. Without Ray the same
    work runs in this process, one image at a time.
    """
    if not use_ray:
        job = _prepare(items, backend_options, None, context, cache, on_progress)
        started = time.perf_counter()
        processed, merged = _run_in_process(job, backend_options, worker_options)
        return _respond(items, job, processed, merged, 1 if job.tasks else 0, started)
    payloads = sum(1 for item in items if isinstance(item, ImagePayload))
    limiter = get_rate_limiter(rate_limit) if rate_limit is not None else None
    size = min(pool_options.workers, max(payloads, 1))
    fleet = WorkerFleet(backend_options, worker_options, size, get_progress_actor(), limiter)
    try:
        return run_on_fleet(fleet, items, pool_options, context=context, on_progress=on_progress, cache=cache)
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
) -> ParseResponse:
    """Process intake items on actors leased from a long-lived ``fleet`` (a server's, say).

    Progress goes through the fleet's progress actor and covers every input,
    including those refused at intake or answered by the cache.

    Raises:
        JobCancelled: ``should_stop`` returned True before every image was done.
    """
    progress = fleet.progress
    if progress is None:
        raise ConfigError("run_on_fleet needs a fleet that reports to the progress actor")
    job = _prepare(items, fleet.backend_options, job_id, context, cache, on_progress)
    workers = min(pool_options.workers, max(len(job.tasks), 1))
    started = time.perf_counter()
    sized = pool_options.model_copy(update={"workers": workers})
    processed, merged = _run_job(fleet, progress, job, sized, should_stop)
    return _respond(items, job, processed, merged, workers if job.tasks else 0, started)


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
    cached = _cached_results(cache, payloads, backend_options)
    tasks = [
        ImageTask(job_id=job_id, payload=payload, context=context)
        for payload in payloads
        if payload.index not in cached
    ]
    known = [item for item in items if isinstance(item, ImageResult)] + list(cached.values())
    return _Job(job_id, tasks, known, _ResultSink(cache, backend_options), on_progress)


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
    return build_response(results, merged, workers, wall_ms)


def _cached_results(
    cache: ResultCache | None, payloads: list[ImagePayload], backend_options: BackendOptions
) -> dict[int, ImageResult]:
    """Results served from the cache, by image index (empty without a cache)."""
    found: dict[int, ImageResult] = {}
    if cache is None:
        return found
    for payload in payloads:
        key = cache_key(payload.sha256, backend_options)
        schedule = cache.get(key) if key is not None else None
        if schedule is not None:
            found[payload.index] = ImageResult(
                image_index=payload.index,
                source=payload.source,
                sha256=payload.sha256,
                success=True,
                status="cached",
                attempts=0,
                data=schedule,
            )
    return found


class _ResultSink:
    """Stores each fresh successful result in the cache as it arrives."""

    def __init__(self, cache: ResultCache | None, backend_options: BackendOptions) -> None:
        self.cache = cache
        self.backend_options = backend_options

    def store(self, result: ImageResult) -> None:
        if self.cache is None or result.status != "ok" or result.sha256 is None:
            return
        key = cache_key(result.sha256, self.backend_options)
        if key is not None:
            self.cache.put(key, result.sha256, result.data)


@dataclass
class _Job:
    """One parse job: the work to do, the results already known, where results go."""

    job_id: str
    tasks: list[ImageTask]
    known: list[ImageResult]
    sink: _ResultSink
    on_progress: ProgressCallback | None

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
    progress: ActorHandle,
    job: _Job,
    pool_options: PoolOptions,
    should_stop: StopCheck | None,
) -> tuple[list[ImageResult], ParsedSchedule]:
    import ray

    ray.get(progress.create_job.remote(job.job_id, job.total, pool_options.workers))
    for result in job.known:
        progress.image_finished.remote(job.job_id, result.image_index, result.success, 0.0)
    reducer = job.start_reducer()
    status: JobStatus = "failed"
    try:
        results = SupervisedPool(fleet, pool_options).run(
            job.tasks,
            on_result=lambda result: job.record(result, reducer),
            on_tick=_ticker(progress, job.job_id, job.on_progress, should_stop),
        )
        status = "done"
    except JobCancelled:
        status = "cancelled"
        raise
    finally:
        final = ray.get(progress.finish_job.remote(job.job_id, status))
        if job.on_progress is not None:
            job.on_progress(final)
        progress.forget.remote(job.job_id)
    return results, reducer.result()


def _ticker(
    progress: ActorHandle, job_id: str, on_progress: ProgressCallback | None, should_stop: StopCheck | None
) -> Callable[[], None]:
    """The pool's tick: pass the progress on, and stop the run when asked to."""

    def tick() -> None:
        import ray

        if should_stop is not None and should_stop():
            raise JobCancelled(f"job {job_id} was cancelled")
        if on_progress is not None:
            snapshot = ray.get(progress.get.remote(job_id))
            if snapshot is not None:
                on_progress(snapshot)

    return tick


def _run_in_process(
    job: _Job, backend_options: BackendOptions, worker_options: WorkerOptions
) -> tuple[list[ImageResult], ParsedSchedule]:
    """The fallback: the same processing, one image at a time, no Ray."""
    board = ProgressBoard()
    board.create_job(job.job_id, job.total, 1)
    for result in job.known:
        board.image_finished(job.job_id, result.image_index, result.success, 0.0)
    reducer = job.start_reducer()
    results = []
    processor = ImageProcessor(backend_options, worker_options, "in-process") if job.tasks else None
    for task in job.tasks:
        assert processor is not None
        board.image_started(job.job_id, processor.worker_id)
        result = processor.process(task)
        board.image_finished(
            job.job_id, result.image_index, result.success, result.processing_time, processor.worker_id
        )
        results.append(result)
        job.record(result, reducer)
        if job.on_progress is not None:
            job.on_progress(board.get(job.job_id) or BatchProgress())
    if job.on_progress is not None:
        job.on_progress(board.finish_job(job.job_id, "done"))
    return results, reducer.result()


def build_response(
    results: list[ImageResult], merged: ParsedSchedule, workers: int, wall_ms: float
) -> ParseResponse:
    """The response for results in input order, with measured stats."""
    succeeded = sum(1 for r in results if r.success)
    busy_ms = sum(r.processing_time for r in results)
    stats = ParseStats(
        total_images=len(results),
        successful_images=succeeded,
        failed_images=len(results) - succeeded,
        cached_images=sum(1 for r in results if r.status == "cached"),
        retries=sum(max(r.attempts - 1, 0) for r in results),
        max_concurrent_workers=workers,
        total_processing_time=wall_ms,
        average_processing_time=busy_ms / len(results) if results else 0.0,
        speedup=busy_ms / wall_ms if wall_ms > 0 else 0.0,
    )
    return ParseResponse(success=succeeded > 0, data=merged, results=results, stats=stats)
