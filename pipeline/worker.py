"""The worker: one backend for its lifetime, one attempt at one image per call.

``ImageProcessor`` does the work without Ray (the in-process loop uses it
directly); ``ImageWorker`` is the Ray actor around it. A call makes at most one
backend request: the driver took the request's slot from the budget before it
sent the task, and decides on any retry from the result (``pipeline.retry``).
Workers return results, they do not throw across the cluster: a failed image is
an ``ImageResult`` with an error code (``retryable`` when another attempt may help).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.base import Backend, BackendOptions, make_backend
from pipeline.cache import ResultCache, cache_key
from pipeline.clean import clean_schedule
from pipeline.errors import BackendError, ImageRejected
from pipeline.images import ImagePayload, ImageRef, open_image, read_uri
from pipeline.ratelimit import Priority
from pipeline.schema import (
    ErrorCode,
    ExtractContext,
    ImageError,
    ImageResult,
    ParsedSchedule,
    Usage,
    WireModel,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ray.actor import ActorClass


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
    cache_path: str | None = Field(
        default=None, description="result cache a worker consults for tasks that name a cache identity"
    )
    similar_cache: bool = Field(default=True, description="that cache also answers near-copies of an image")


class ImageTask(WireModel):
    """One unit of work handed to a worker."""

    job_id: str
    payload: ImagePayload | ImageRef
    context: ExtractContext | None = None
    attempt: int = Field(default=1, ge=1, description="this dispatch's number: 1 + the image's earlier ones")
    failures: int = Field(default=0, ge=0, description="earlier attempts that failed transiently or crashed")
    quota_waits: int = Field(default=0, ge=0, description="earlier attempts answered with a per-minute 429")
    priority: Priority = Field(
        default="interactive", description="interactive (a user waits) goes before bulk on the budget"
    )
    slot_at: float | None = Field(
        default=None, description="when this attempt's slot opened (budget's clock)"
    )
    cache_identity: str | None = Field(
        default=None, description="look the image up in the worker's cache under this identity (batch)"
    )

    def again(self, *, quota_wait: bool) -> ImageTask:
        """The next attempt at this image, after a per-minute 429 or after a failure."""
        counted = {"quota_waits": self.quota_waits + 1} if quota_wait else {"failures": self.failures + 1}
        return self.model_copy(update={"attempt": self.attempt + 1, "slot_at": None, **counted})


class ImageProcessor:
    """Decodes, extracts and cleans one image into an ImageResult."""

    def __init__(
        self,
        backend_options: BackendOptions,
        options: WorkerOptions,
        worker_id: str,
    ) -> None:
        self.worker_id = worker_id
        self.options = options
        self.backend: Backend = make_backend(backend_options)  # loaded once, used for every image
        self._cache: ResultCache | None = None

    def process(self, task: ImageTask) -> ImageResult:
        """One attempt at one image; every failure, even a bug, is a failed result (not a raise)."""
        started = time.perf_counter()
        sent_at: float | None = None
        payload: ImagePayload | ImageRef = task.payload
        try:
            payload = self._read(payload)
            cached = self._cached(task, payload)
            if cached is not None:
                return cached
            sent_at = time.time()  # when the slot was really used, for the budget's windows
            schedule, usage = self._extract(payload, task.context)
        except ImageRejected as exc:
            if self.options.raise_errors:
                raise
            error = ImageError(code=exc.code, message=exc.message)
            return self._result(task, payload, started, error=error)
        except BackendError as exc:
            if self.options.raise_errors:
                raise
            error = ImageError(
                code=exc.code,
                message=exc.message,
                quota=exc.quota,
                retry_after=exc.retry_after,
                quota_scope=exc.quota_scope,
                quota_limit=exc.quota_limit,
                retryable=exc.retryable,
            )
            return self._result(task, payload, started, error=error, sent_at=sent_at)
        except Exception as exc:  # a bug: this image fails, the worker and the batch carry on
            if self.options.raise_errors:
                raise
            log.exception("unexpected error on %s", payload.source)
            error = ImageError(code="internal_error", message=f"{type(exc).__name__}: {exc}")
            return self._result(task, payload, started, error=error, sent_at=sent_at)
        result = self._result(task, payload, started, data=schedule, usage=usage, sent_at=sent_at)
        self._remember(task, result)
        return result

    def _cache_for(self, task: ImageTask) -> ResultCache | None:
        if task.cache_identity is None or self.options.cache_path is None:
            return None
        if self._cache is None:
            from pathlib import Path

            from pipeline.cache import ResultCache

            self._cache = ResultCache(Path(self.options.cache_path), similar=self.options.similar_cache)
        return self._cache

    def _cached(self, task: ImageTask, payload: ImagePayload) -> ImageResult | None:
        """The cached answer for this image, when the task asks the worker to look."""
        cache = self._cache_for(task)
        if cache is None or task.cache_identity is None:
            return None
        hit = cache.lookup(payload.sha256, payload.data, task.cache_identity)
        return cached_result(payload, hit.schedule, hit.similar_to) if hit is not None else None

    def _remember(self, task: ImageTask, result: ImageResult) -> None:
        cache = self._cache_for(task)
        if cache is not None and task.cache_identity is not None and result.sha256:
            cache.put(cache_key(result.sha256, task.cache_identity), result.sha256, result.data)

    def _read(self, payload: ImagePayload | ImageRef) -> ImagePayload:
        if isinstance(payload, ImageRef):
            return read_uri(payload.source, payload.index, max_bytes=self.options.max_bytes)
        return payload

    def _extract(
        self, payload: ImagePayload, context: ExtractContext | None
    ) -> tuple[ParsedSchedule, Usage | None]:
        image = open_image(payload, max_pixels=self.options.max_pixels)  # pixels decode only if used
        answer = self.backend.extract(image, context)
        return clean_schedule(answer.schedule), answer.usage

    def _result(
        self,
        task: ImageTask,
        payload: ImagePayload | ImageRef,
        started: float,
        *,
        data: ParsedSchedule | None = None,
        error: ImageError | None = None,
        usage: Usage | None = None,
        sent_at: float | None = None,
    ) -> ImageResult:
        """``attempts`` counts the image's dispatches, this one included: one request each."""
        return ImageResult(
            image_index=payload.index,
            source=payload.source,
            sha256=payload.sha256,
            success=error is None,
            status="ok" if error is None else "failed",
            error=error,
            attempts=task.attempt,
            processing_time=(time.perf_counter() - started) * 1000,
            worker=self.worker_id,
            usage=usage,
            sent_at=sent_at,
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


def cached_result(
    payload: ImagePayload, schedule: ParsedSchedule, similar_to: str | None = None
) -> ImageResult:
    """The result of an image answered from the result cache (``similar_to``: as a near-copy of that one)."""
    return ImageResult(
        image_index=payload.index,
        source=payload.source,
        sha256=payload.sha256,
        success=True,
        status="cached",
        similar_to=similar_to,
        attempts=0,
        data=schedule,
    )


class ImageWorker:
    """Ray actor body: an ImageProcessor. It makes no calls of its own: the driver took the
    request's slot before sending the task, and reports progress and settles the budget."""

    def __init__(self, backend_options: BackendOptions, options: WorkerOptions, worker_id: str) -> None:
        self.processor = ImageProcessor(backend_options, options, worker_id)

    def process(self, task: ImageTask) -> ImageResult:
        return self.processor.process(task)

    def ping(self) -> str:
        return self.processor.worker_id

    def node_id(self) -> str:
        """The Ray node this worker runs on (to see where a cluster placed it)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


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
