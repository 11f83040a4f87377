"""The supervised worker pool: submit, time out, retry, replace dead actors.

``ray.util.ActorPool`` keeps the set of idle actors (``pop_idle``/``push``);
this module keeps its own table of every item in flight, because an ActorPool
loses the item an actor held when that actor dies and can drop queued items
silently. Per-image deadlines use ``ray.wait`` with our own clock, since
``get_next_unordered(timeout, ignore_if_timedout=True)`` is broken in Ray 2.60.

Invariant: every task handed to ``SupervisedPool.run`` yields exactly one
ImageResult, whatever happens to the actors.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.base import BackendOptions
from pipeline.schema import ImageResult
from pipeline.worker import ImageTask, WorkerOptions, failed_result, worker_actor_class

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

MIN_WORKERS, MAX_WORKERS = 1, 5


class PoolOptions(BaseModel):
    """How many workers run at once and how each image is supervised."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: int = Field(
        default=3, ge=MIN_WORKERS, le=MAX_WORKERS, strict=True, description="worker actors in the pool, 1-5"
    )
    image_timeout_s: float = Field(default=30.0, gt=0, description="per-image deadline, seconds")
    max_attempts: int = Field(default=3, ge=1, le=10, description="tries per image when its worker crashes")
    poll_interval_s: float = Field(default=0.25, gt=0, description="how often progress is read")


@dataclass
class _InFlight:
    actor: ActorHandle
    worker_id: str
    task: ImageTask
    deadline: float


ResultCallback = Callable[[ImageResult], None]


class SupervisedPool:
    """A pool of worker actors that never loses an item.

    Actors are created once and reused across ``run`` calls; ``close`` kills them.
    """

    def __init__(
        self,
        backend_options: BackendOptions,
        pool_options: PoolOptions,
        worker_options: WorkerOptions,
        progress: ActorHandle | None = None,
    ) -> None:
        from ray.util import ActorPool

        self.backend_options = backend_options
        self.pool_options = pool_options
        self.worker_options = worker_options
        self.progress = progress
        self._actor_class = worker_actor_class(worker_options)
        self._ids = itertools.count(1)
        self._images_done: dict[str, int] = {}
        self._worker_ids: dict[ActorHandle, str] = {}
        self._pool = ActorPool([self._new_actor() for _ in range(pool_options.workers)])

    @property
    def actors(self) -> list[ActorHandle]:
        """Every live actor of the pool, idle or busy."""
        return list(self._worker_ids)

    def _new_actor(self) -> ActorHandle:
        worker_id = f"worker-{next(self._ids)}"
        actor = self._actor_class.options(name=None).remote(
            self.backend_options, self.worker_options, worker_id, self.progress
        )
        self._worker_ids[actor] = worker_id
        self._images_done[worker_id] = 0
        return actor

    def _retire(self, actor: ActorHandle, job_id: str) -> None:
        """Kill an actor (dead, stuck or due for recycling) and push a fresh one."""
        import ray

        worker_id = self._worker_ids.pop(actor, "?")
        self._images_done.pop(worker_id, None)
        ray.kill(actor, no_restart=True)
        if self.progress is not None:
            self.progress.worker_gone.remote(job_id, worker_id)
        self._pool.push(self._new_actor())

    def run(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> list[ImageResult]:
        """Process every task; one result per task, in the order tasks were given."""
        import ray

        pending = deque(tasks)
        order = [task.payload.index for task in pending]
        results: dict[int, ImageResult] = {}
        in_flight: dict[ObjectRef[ImageResult], _InFlight] = {}
        while pending or in_flight:
            self._submit_free(pending, in_flight)
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self._wait_time(in_flight))
            for ref in ready:
                self._collect(ref, in_flight.pop(ref), pending, results, on_result)
            self._expire(in_flight, results, on_result)
            if on_tick is not None:
                on_tick()
        assert sorted(results) == sorted(order), "every input must yield exactly one result"
        return [results[index] for index in order]

    def _submit_free(self, pending: deque[ImageTask], in_flight: dict[Any, _InFlight]) -> None:
        while pending and self._pool.has_free():
            actor = self._pool.pop_idle()
            task = pending.popleft()
            ref = actor.process.remote(task)
            deadline = time.monotonic() + self.pool_options.image_timeout_s
            in_flight[ref] = _InFlight(actor, self._worker_ids[actor], task, deadline)

    def _wait_time(self, in_flight: dict[Any, _InFlight]) -> float:
        if not in_flight:
            return 0.0
        next_deadline = min(item.deadline for item in in_flight.values())
        return max(0.0, min(next_deadline - time.monotonic(), self.pool_options.poll_interval_s))

    def _collect(
        self,
        ref: ObjectRef[ImageResult],
        item: _InFlight,
        pending: deque[ImageTask],
        results: dict[int, ImageResult],
        on_result: ResultCallback | None,
    ) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            result: ImageResult = ray.get(ref)
        except RayActorError as exc:
            self._on_crash(item, exc, pending, results, on_result)
            return
        except RayTaskError as exc:  # the backend raised: only with raise_errors, or a bug
            if self.worker_options.raise_errors:
                raise
            result = failed_result(item.task.payload, "upstream_error", str(exc.cause), item.task.attempt)
        self._finish(result, item, results, on_result)
        self._images_done[item.worker_id] = self._images_done.get(item.worker_id, 0) + 1
        recycle_after = self.worker_options.recycle_after
        if recycle_after and self._images_done[item.worker_id] >= recycle_after:
            self._retire(item.actor, item.task.job_id)
        else:
            self._pool.push(item.actor)

    def _on_crash(
        self,
        item: _InFlight,
        exc: Exception,
        pending: deque[ImageTask],
        results: dict[int, ImageResult],
        on_result: ResultCallback | None,
    ) -> None:
        task = item.task
        log.warning("%s died on %s (attempt %d): %s", item.worker_id, task.payload.source, task.attempt, exc)
        self._retire(item.actor, task.job_id)
        if task.attempt < self.pool_options.max_attempts:
            pending.appendleft(task.model_copy(update={"attempt": task.attempt + 1}))
            if self.progress is not None:
                self.progress.add_retry.remote(task.job_id)
            return
        message = f"worker died on each of {task.attempt} attempts; last: {type(exc).__name__}"
        self._finish(
            failed_result(task.payload, "worker_crashed", message, task.attempt), item, results, on_result
        )

    def _expire(
        self,
        in_flight: dict[Any, _InFlight],
        results: dict[int, ImageResult],
        on_result: ResultCallback | None,
    ) -> None:
        now = time.monotonic()
        for ref, item in list(in_flight.items()):
            if item.deadline <= now:
                del in_flight[ref]
                timeout = self.pool_options.image_timeout_s
                message = f"no result within {timeout:g} s; worker {item.worker_id} replaced"
                result = failed_result(item.task.payload, "timeout", message, item.task.attempt)
                result.processing_time = timeout * 1000
                self._finish(result, item, results, on_result)
                self._retire(item.actor, item.task.job_id)

    def _finish(
        self,
        result: ImageResult,
        item: _InFlight,
        results: dict[int, ImageResult],
        on_result: ResultCallback | None,
    ) -> None:
        results[result.image_index] = result
        if self.progress is not None and result.worker is None:  # workers report their own results
            self.progress.image_finished.remote(
                item.task.job_id, result.image_index, result.success, result.processing_time, item.worker_id
            )
        if on_result is not None:
            on_result(result)

    def close(self) -> None:
        """Kill every actor of the pool."""
        import ray

        for actor in list(self._worker_ids):
            ray.kill(actor, no_restart=True)
        self._worker_ids.clear()
