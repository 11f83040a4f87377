"""One parse job end to end: intake, the supervised pool, the reducer, stats.

Used by the CLI's ``parse`` and (later) by the Serve app. If Ray cannot start,
the same work runs in this process, one image at a time, with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.backends.base import BackendOptions, ExtractContext
from pipeline.errors import ImageRejected
from pipeline.images import ImagePayload, read_base64, read_bytes, read_path
from pipeline.progress import ProgressBoard, get_progress_actor
from pipeline.reduce import ScheduleReducer
from pipeline.runner import PoolOptions, SupervisedPool, WorkerFleet
from pipeline.schema import BatchProgress, ImageResult, ParsedSchedule, ParseResponse, ParseStats
from pipeline.worker import ImageProcessor, ImageTask, WorkerOptions, failed_result

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

ImageInput = str | bytes | Path
ProgressCallback = Callable[[BatchProgress], None]


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


def run_parse(
    items: Sequence[ImagePayload | ImageResult],
    backend_options: BackendOptions,
    *,
    pool_options: PoolOptions,
    worker_options: WorkerOptions,
    context: ExtractContext | None = None,
    use_ray: bool = True,
    on_progress: ProgressCallback | None = None,
) -> ParseResponse:
    """Process intake items into one ParseResponse (results in input order)."""
    job_id = uuid.uuid4().hex[:12]
    payloads = [item for item in items if isinstance(item, ImagePayload)]
    tasks = [ImageTask(job_id=job_id, payload=payload, context=context) for payload in payloads]
    workers = min(pool_options.workers, max(len(tasks), 1))
    started = time.perf_counter()
    if use_ray and tasks:
        processed, merged = _run_on_ray(
            tasks, backend_options, pool_options, worker_options, workers, on_progress
        )
    else:
        processed, merged = _run_in_process(tasks, backend_options, worker_options, on_progress)
        workers = 1 if tasks else workers
    wall_ms = (time.perf_counter() - started) * 1000
    by_index = {result.image_index: result for result in processed}
    # a missing result is a bug in the pool: by_index[...] fails loudly rather than losing an image
    results = [item if isinstance(item, ImageResult) else by_index[item.index] for item in items]
    return build_response(results, merged, workers, wall_ms)


def _run_on_ray(
    tasks: list[ImageTask],
    backend_options: BackendOptions,
    pool_options: PoolOptions,
    worker_options: WorkerOptions,
    workers: int,
    on_progress: ProgressCallback | None,
) -> tuple[list[ImageResult], ParsedSchedule]:
    import ray

    from pipeline.reduce import make_reducer_actor

    job_id = tasks[0].job_id
    progress = get_progress_actor()
    ray.get(progress.create_job.remote(job_id, len(tasks), workers))
    reducer = make_reducer_actor()
    fleet = WorkerFleet(backend_options, worker_options, workers, progress)
    try:
        pool = SupervisedPool(fleet, pool_options.model_copy(update={"workers": workers}))
        results = pool.run(
            tasks,
            on_result=lambda r: reducer.add.remote(r.data, r.source) if r.success else None,
            on_tick=_progress_reader(progress, job_id, on_progress),
        )
        final = ray.get(progress.finish_job.remote(job_id, "done"))
        if on_progress is not None:
            on_progress(final)
        ray.get(progress.forget.remote(job_id))
        merged: ParsedSchedule = ray.get(reducer.result.remote())
    finally:
        fleet.close()
        ray.kill(reducer)
    return results, merged


def _progress_reader(
    progress: ActorHandle, job_id: str, on_progress: ProgressCallback | None
) -> Callable[[], None]:
    def tick() -> None:
        if on_progress is not None:
            import ray

            snapshot = ray.get(progress.get.remote(job_id))
            if snapshot is not None:
                on_progress(snapshot)

    return tick


def _run_in_process(
    tasks: list[ImageTask],
    backend_options: BackendOptions,
    worker_options: WorkerOptions,
    on_progress: ProgressCallback | None,
) -> tuple[list[ImageResult], ParsedSchedule]:
    """The fallback: the same processing, one image at a time, no Ray."""
    reducer = ScheduleReducer()
    if not tasks:
        return [], reducer.result()
    board = ProgressBoard()
    job_id = tasks[0].job_id
    board.create_job(job_id, len(tasks), 1)
    processor = ImageProcessor(backend_options, worker_options, "in-process")
    results = []
    for task in tasks:
        board.image_started(job_id, processor.worker_id)
        result = processor.process(task)
        board.image_finished(
            job_id, result.image_index, result.success, result.processing_time, processor.worker_id
        )
        results.append(result)
        if result.success:
            reducer.add(result.data, result.source)
        if on_progress is not None:
            on_progress(board.get(job_id) or BatchProgress())
    if on_progress is not None:
        on_progress(board.finish_job(job_id, "done"))
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
