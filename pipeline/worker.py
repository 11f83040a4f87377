"""The worker: one backend for its lifetime, one image at a time.

``ImageProcessor`` does the work without Ray (the in-process fallback uses it
directly); ``ImageWorker`` is the Ray actor around it, whose API calls draw
on the cluster's request budget. Workers return results, they do not throw across the
cluster: a failed image is an ``ImageResult`` with an error code.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.base import Backend, BackendOptions, ExtractContext, RemoteCallHooks, make_backend
from pipeline.cache import ResultCache, cache_key
from pipeline.clean import clean_schedule
from pipeline.errors import BackendError, ImageRejected
from pipeline.images import ImagePayload, ImageRef, open_image, read_uri
from pipeline.schema import ErrorCode, ImageError, ImageResult, ParsedSchedule, Usage, WireModel

log = logging.getLogger(__name__)

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
    cache_path: str | None = Field(
        default=None, description="result cache a worker consults for tasks that name a cache identity"
    )
    similar_cache: bool = Field(default=True, description="that cache also answers near-copies of an image")


class ImageTask(WireModel):
    """One unit of work handed to a worker."""

    job_id: str
    payload: ImagePayload | ImageRef
    context: ExtractContext | None = None
    attempt: int = Field(default=1, ge=1)
    quota_waits: int = Field(default=0, ge=0, description="times this image went back to wait for quota")
    slot_held: bool = Field(default=False, description="the driver already took its first request's slot")
    slot_at: float | None = Field(default=None, description="when that slot opened (the budget's clock)")
    cache_identity: str | None = Field(
        default=None, description="look the image up in the worker's cache under this identity (batch)"
    )


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
        self._cache: ResultCache | None = None

    def process(self, task: ImageTask) -> ImageResult:
        """One image to one result; every failure, even a bug, is a failed result (not a raise)."""
        started = time.perf_counter()
        payload: ImagePayload | ImageRef = task.payload
        try:
            payload = self._read(payload)
            cached = self._cached(task, payload)
            if cached is not None:
                return cached
            schedule = self._extract(payload, task.context)
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
            )
            return self._result(task, payload, started, error=error, calls=exc.attempts)
        except Exception as exc:  # a bug: this image fails, the worker and the batch carry on
            if self.options.raise_errors:
                raise
            log.exception("unexpected error on %s", payload.source)
            error = ImageError(code="internal_error", message=f"{type(exc).__name__}: {exc}")
            return self._result(task, payload, started, error=error)
        calls = getattr(self.backend, "last_attempts", 1)
        usage: Usage | None = getattr(self.backend, "last_usage", None)
        result = self._result(task, payload, started, data=schedule, calls=calls, usage=usage)
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
        usage: Usage | None = None,
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
            usage=usage,
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
    """Ray actor body: an ImageProcessor whose API calls draw on the cluster's budget.

    The driver takes the slot of an image's first request before sending it
    here (``task.slot_held``); retries inside the backend take their own. Workers
    make no other calls: the driver reports progress and settles the budget.
    """

    def __init__(
        self,
        backend_options: BackendOptions,
        options: WorkerOptions,
        worker_id: str,
        limiter: ActorHandle | None = None,
    ) -> None:
        self.permits = _Permits(limiter, backend_options) if limiter is not None else None
        hooks = self.permits.hooks() if self.permits is not None else None
        self.processor = ImageProcessor(backend_options, options, worker_id, hooks)

    def process(self, task: ImageTask) -> ImageResult:
        if self.permits is None:
            return self.processor.process(task)
        self.permits.prepaid, self.permits.sent_at = task.slot_held, None
        result = self.processor.process(task)
        result.sent_at = self.permits.sent_at
        return result

    def ping(self) -> str:
        return self.processor.worker_id

    def node_id(self) -> str:
        """The Ray node this worker runs on (to see where a cluster placed it)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


class _Permits:
    """The hooks of a worker's backend: slots from the cluster's budget, 429s told to it."""

    def __init__(self, limiter: ActorHandle, backend_options: BackendOptions) -> None:
        self.limiter = limiter
        self.tokens = backend_options.estimate_input_tokens(None, None)
        self.prepaid = False
        self.sent_at: float | None = None

    def hooks(self) -> RemoteCallHooks:
        return RemoteCallHooks(self.acquire, self.rate_limited, defer_rate_limits=True)

    def acquire(self) -> None:
        """The first attempt's slot was taken by the driver; a retry waits for one of its own."""
        if self.prepaid:
            self.prepaid = False
            self.sent_at = time.time()  # when the slot was really used, for the budget's windows
            return
        import ray

        try:
            grant = ray.get(self.limiter.reserve.remote(self.tokens))
        except Exception:  # the budget is away (restarting): go on, the server's 429s still hold us back
            log.warning("the rate limiter did not answer; sending the retry without a slot")
            return
        if grant.denied is not None:
            raise BackendError(
                "rate_limited", grant.denied.message, quota=grant.denied.quota, quota_scope="day"
            )
        time.sleep(grant.wait_s)

    def rate_limited(self, retry_after: float | None) -> None:
        self.limiter.rate_limited.remote(retry_after)


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
