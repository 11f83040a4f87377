"""The worker: one backend for its lifetime, one image at a time.

``ImageProcessor`` does the work without Ray (the in-process fallback uses it
directly); ``ImageWorker`` is the Ray actor around it, which also reports to
the progress actor. Workers return results, they do not throw across the
cluster: a failed image is an ``ImageResult`` with an error code.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.base import Backend, BackendOptions, ExtractContext, RemoteCallHooks, make_backend
from pipeline.clean import clean_schedule
from pipeline.errors import BackendError, ImageRejected
from pipeline.images import ImagePayload, ImageRef, open_image, read_uri
from pipeline.schema import ErrorCode, ImageError, ImageResult, ParsedSchedule, WireModel

if TYPE_CHECKING:
    from ray.actor import ActorClass, ActorHandle


class WorkerOptions(BaseModel):
    """How worker actors are sized and supervised."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    num_cpus: float = Field(
        default=0.4, gt=0, le=64, description="CPU share per actor; fractional so five fit on two cores"
    )
    memory_bytes: int | None = Field(
        default=None, ge=1, description="Ray `memory` resource reserved per actor (None: no reservation)"
    )
    recycle_after: int = Field(
        default=0, ge=0, description="replace an actor after this many images, to bound leaks (0: never)"
    )
    max_pixels: int = Field(default=40_000_000, ge=1, description="decompression-bomb limit per image")
    max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="size limit of images the worker reads itself"
    )
    raise_errors: bool = Field(
        default=False, description="for tests: raise failures instead of returning failed results"
    )


class ImageTask(WireModel):
    """One unit of work handed to a worker."""

    job_id: str
    payload: ImagePayload | ImageRef
    context: ExtractContext | None = None
    attempt: int = Field(default=1, ge=1)


class ImageProcessor:
    """Decodes, extracts and cleans one image into an ImageResult."""

    def __init__(
        self,
        backend_options: BackendOptions,
        options: WorkerOptions,
        worker_id: str,
        hooks: RemoteCallHooks | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.options = options
        self.backend: Backend = make_backend(backend_options, hooks)  # loaded once, used for every image

    def process(self, task: ImageTask) -> ImageResult:
        started = time.perf_counter()
        payload: ImagePayload | ImageRef = task.payload
        try:
            payload = self._read(payload)
            schedule = self._extract(payload, task.context)
        except ImageRejected as exc:
            if self.options.raise_errors:
                raise
            error = ImageError(code=exc.code, message=exc.message)
            return self._result(task, payload, started, error=error)
        except BackendError as exc:
            if self.options.raise_errors:
                raise
            error = ImageError(code=exc.code, message=exc.message)
            return self._result(task, payload, started, error=error, calls=exc.attempts)
        calls = getattr(self.backend, "last_attempts", 1)
        return self._result(task, payload, started, data=schedule, calls=calls)

    def _read(self, payload: ImagePayload | ImageRef) -> ImagePayload:
        if isinstance(payload, ImageRef):
            return read_uri(payload.source, payload.index, max_bytes=self.options.max_bytes)
        return payload

    def _extract(self, payload: ImagePayload, context: ExtractContext | None) -> ParsedSchedule:
        image = open_image(payload, max_pixels=self.options.max_pixels)  # pixels decode only if used
        raw = self.backend.extract(image, context)
        return clean_schedule(raw)

    def _result(
        self,
        task: ImageTask,
        payload: ImagePayload | ImageRef,
        started: float,
        *,
        data: ParsedSchedule | None = None,
        error: ImageError | None = None,
        calls: int = 1,
    ) -> ImageResult:
        """``attempts`` counts worker attempts before this one plus backend calls in this one."""
        return ImageResult(
            image_index=payload.index,
            source=payload.source,
            sha256=payload.sha256,
            success=error is None,
            status="ok" if error is None else "failed",
            error=error,
            attempts=task.attempt - 1 + max(calls, 1),
            processing_time=(time.perf_counter() - started) * 1000,
            worker=self.worker_id,
            data=data or ParsedSchedule(),
        )


def failed_result(
    payload: ImagePayload | ImageRef, code: ErrorCode, message: str, attempts: int = 0
) -> ImageResult:
    """A failed ImageResult for an image no worker could finish."""
    return ImageResult(
        image_index=payload.index,
        source=payload.source,
        sha256=payload.sha256,
        success=False,
        status="failed",
        error=ImageError(code=code, message=message),
        attempts=attempts,
    )


class ImageWorker:
    """Ray actor body: an ImageProcessor that reports to the progress actor."""

    def __init__(
        self,
        backend_options: BackendOptions,
        options: WorkerOptions,
        worker_id: str,
        progress: ActorHandle | None = None,
        limiter: ActorHandle | None = None,
    ) -> None:
        self.processor = ImageProcessor(backend_options, options, worker_id, _limiter_hooks(limiter))
        self.progress = progress
        self.limiter = limiter

    def process(self, task: ImageTask) -> ImageResult:
        worker_id = self.processor.worker_id
        if self.progress is not None:
            self.progress.image_started.remote(task.job_id, worker_id)
        result = self.processor.process(task)
        if self.limiter is not None and result.success:
            self.limiter.succeeded.remote()
        if self.progress is not None:  # early word for live progress; the driver's report is the record
            self.progress.image_finished.remote(
                task.job_id, result.image_index, result.success, result.processing_time, worker_id
            )
        return result

    def ping(self) -> str:
        return self.processor.worker_id

    def node_id(self) -> str:
        """The Ray node this worker runs on (to see where a cluster placed it)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


def _limiter_hooks(limiter: ActorHandle | None) -> RemoteCallHooks | None:
    """Hooks that take a slot from the cluster's rate limiter before each API call."""
    if limiter is None:
        return None
    import ray

    def acquire_permit() -> None:
        time.sleep(ray.get(limiter.reserve.remote()))

    def on_rate_limited(retry_after: float | None) -> None:
        limiter.rate_limited.remote(retry_after)

    return RemoteCallHooks(acquire_permit, on_rate_limited)


def worker_actor_class(options: WorkerOptions) -> ActorClass[Any]:
    """The ImageWorker actor class with this pool's resources applied."""
    import ray

    # SPREAD: on a cluster, workers go to different nodes, so losing one node costs few of them.
    resources: dict[str, Any] = {
        "num_cpus": options.num_cpus,
        "max_restarts": 0,
        "scheduling_strategy": "SPREAD",
    }
    if options.memory_bytes is not None:
        resources["memory"] = options.memory_bytes
    return ray.remote(**resources)(ImageWorker)
