"""Supervised worker pools: submit, time out, retry, replace dead actors.

``WorkerFleet`` owns long-lived worker actors and lends them out exclusively,
so many runs (HTTP requests, say) share actors and none pays to start them.
``SupervisedPool`` runs one batch over actors leased from a fleet, through a
``ray.util.ActorPool`` that keeps the idle set (``pop_idle``/``push``). The
pool keeps its own table of every item in flight, because an ActorPool loses
the item a dying actor held and can drop queued items silently. Per-image
deadlines use ``ray.wait`` with our own clock, since
``get_next_unordered(timeout, ignore_if_timedout=True)`` is broken in Ray 2.60.

Invariant: every task handed to ``SupervisedPool.run`` yields exactly one
ImageResult, whatever happens to the actors.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.backends.base import BackendOptions
from pipeline.errors import ConfigError
from pipeline.metrics import metrics
from pipeline.schema import ImageResult
from pipeline.worker import ImageTask, WorkerOptions, worker_actor_class

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle

    from pipeline.progress import ProgressTracker

log = logging.getLogger(__name__)

MIN_WORKERS, MAX_WORKERS = 1, 5
MAX_BATCH_WORKERS = 256


class PoolOptions(BaseModel):
    """How many workers one run uses and how each image is supervised."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: int = Field(default=3, ge=MIN_WORKERS, strict=True, description="worker actors in the pool, 1-5")
    large_pool: bool = Field(
        default=False,
        description=f"allow more than {MAX_WORKERS} workers (batch jobs of a CPU-bound backend on a cluster)",
    )
    image_timeout_s: float = Field(default=30.0, gt=0, description="per-image deadline, seconds")
    max_attempts: int = Field(default=3, ge=1, le=10, description="tries per image when its worker crashes")
    poll_interval_s: float = Field(default=0.25, gt=0, description="how often progress is read")
    startup_timeout_s: float = Field(
        default=60.0, gt=0, description="time a worker may take to load its backend, on top of an image's"
    )

    @model_validator(mode="after")
    def _within_bounds(self) -> PoolOptions:
        limit = MAX_BATCH_WORKERS if self.large_pool else MAX_WORKERS
        if self.workers > limit:
            raise ValueError(f"workers must be from {MIN_WORKERS} to {limit}, got {self.workers}")
        return self


class WorkerFleet:
    """Long-lived worker actors, lent out exclusively to one run at a time.

    Thread-safe: concurrent runs lease disjoint actors and wait when none is free.
    """

    def __init__(
        self,
        backend_options: BackendOptions,
        worker_options: WorkerOptions,
        size: int,
        progress: ActorHandle | None = None,
        limiter: ActorHandle | None = None,
        *,
        named: str | None = None,
    ) -> None:
        """``named``: the actors are the detached, named ones ``<named>-<n>`` (a warm fleet that
        outlives this fleet object, see ``pipeline.runtime``): found when they exist, else made."""
        self.backend_options = backend_options
        self.worker_options = worker_options
        self.progress = progress
        self.limiter = limiter
        self.named = named
        self._actor_class = worker_actor_class(worker_options)
        self._ids = itertools.count(1)
        self._worker_ids: dict[ActorHandle, str] = {}
        self._images_done: dict[ActorHandle, int] = {}
        self._started: dict[ActorHandle, ObjectRef[str]] = {}
        self._free: list[ActorHandle] = []
        self._warm: set[ActorHandle] = set()
        self._warm_left = size if named is not None else 0
        self._changed = threading.Condition()
        for _ in range(size):
            self._free.append(self._start_actor())

    @property
    def actors(self) -> list[ActorHandle]:
        """Every live actor of the fleet, leased or free."""
        with self._changed:
            return list(self._worker_ids)

    def worker_id(self, actor: ActorHandle) -> str:
        return self._worker_ids.get(actor, "?")

    def lease(self, wanted: int) -> list[ActorHandle]:
        """Take up to ``wanted`` free actors, waiting until at least one is free."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._free))
            leased, self._free = self._free[:wanted], self._free[wanted:]
        metrics().worker_count("leased", len(leased))
        return leased

    def release(self, actors: Iterable[ActorHandle]) -> None:
        """Give leased actors back (dead ones must have gone through ``replace``)."""
        actors = list(actors)
        metrics().worker_count("leased", -len(actors))
        with self._changed:
            self._free.extend(actor for actor in actors if actor in self._worker_ids)
            self._changed.notify_all()

    def replace(self, actor: ActorHandle, job_id: str) -> ActorHandle:
        """Kill a dead, stuck or worn actor; its fresh successor stays leased to the caller."""
        import ray

        with self._changed:
            worker_id = self._worker_ids.pop(actor, "?")
            self._warm.discard(actor)
            self._images_done.pop(actor, None)
            self._started.pop(actor, None)
            successor = self._start_actor()
        metrics().worker_count("total", -1)
        ray.kill(actor, no_restart=True)
        log.debug("%s of job %s replaced", worker_id, job_id)
        return successor

    def due_for_recycling(self, actor: ActorHandle) -> bool:
        """Count one finished image; True when the actor reached ``recycle_after``."""
        with self._changed:
            self._images_done[actor] = self._images_done.get(actor, 0) + 1
            limit = self.worker_options.recycle_after
            return bool(limit) and self._images_done[actor] >= limit

    def close(self) -> None:
        """Kill every actor of the fleet, except the warm ones of a named fleet (they stay for others)."""
        import ray

        with self._changed:
            actors, self._free = list(self._worker_ids), []
            self._worker_ids.clear()
            self._started.clear()
        for actor in actors:
            metrics().worker_count("total", -1)
            if actor not in self._warm:
                ray.kill(actor, no_restart=True)

    def _start_actor(self) -> ActorHandle:
        number = next(self._ids)
        worker_id = f"worker-{number}"
        actor_class, warm = self._actor_class, self.named is not None and self._warm_left > 0
        if warm:  # one of the warm fleet's actors, found or made; successors are this fleet's own
            self._warm_left -= 1
            worker_id = f"{self.named}-{number}"
            actor_class = actor_class.options(
                name=worker_id, namespace="karaoke-pipeline", get_if_exists=True, lifetime="detached"
            )
        actor = actor_class.remote(self.backend_options, self.worker_options, worker_id, self.limiter)
        metrics().worker_count("total", 1)
        if warm:
            self._warm.add(actor)
        self._worker_ids[actor] = worker_id
        self._started[actor] = actor.ping.remote()  # resolves once the backend is loaded
        return actor

    def is_ready(self, actor: ActorHandle) -> bool:
        """Whether the actor has finished starting (its backend is loaded)."""
        import ray

        started = self._started.get(actor)
        return started is None or bool(ray.wait([started], timeout=0)[0])

    def wait_ready(self, actors: list[ActorHandle], timeout_s: float) -> None:
        """Block until these actors have started; a backend that cannot be built is a clear error.

        An actor that died while starting for another reason (killed, its node
        lost) is left to the run, which replaces it when its first image fails.

        Raises:
            ConfigError: a worker's constructor failed (bad options, a missing extra).
        """
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        deadline = time.monotonic() + timeout_s
        for actor in actors:
            started = self._started.get(actor)
            if started is None:
                continue
            try:
                ray.get(started, timeout=max(0.0, deadline - time.monotonic()))
            except GetTimeoutError:
                log.warning("workers still starting after %g s; their images wait for them", timeout_s)
                return
            except RayActorError as exc:
                if exc.actor_init_failed:  # the last line of Ray's report names the cause
                    cause = str(exc).strip().splitlines()[-1]
                    raise ConfigError(f"a worker could not start: {cause}") from exc


ResultCallback = Callable[[ImageResult], None]


class SupervisedPool:
    """Runs one batch over actors leased from a fleet; never loses an item."""

    def __init__(self, fleet: WorkerFleet, options: PoolOptions) -> None:
        self.fleet = fleet
        self.options = options

    def run(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback | None = None,
        on_tick: Callable[[], None] | None = None,
        tracker: ProgressTracker | None = None,
    ) -> list[ImageResult]:
        """Process every task; one result per task, in the order tasks were given."""
        tasks = list(tasks)
        results: dict[int, ImageResult] = {}

        def keep(result: ImageResult) -> None:
            results[result.image_index] = result
            if on_result is not None:
                on_result(result)

        self.stream(tasks, keep, on_tick, tracker=tracker)
        order = [task.payload.index for task in tasks]
        assert sorted(results) == sorted(order), "every input must yield exactly one result"
        return [results[index] for index in order]

    def stream(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback,
        on_tick: Callable[[], None] | None = None,
        read_ahead: int | None = None,
        tracker: ProgressTracker | None = None,
    ) -> int:
        """Process tasks pulled lazily from ``tasks``; each result goes to ``on_result``, none is kept.

        At most ``read_ahead`` tasks (default: the pool size) are taken from the
        iterator and not yet finished, so memory stays flat however long it is.
        ``tracker`` (when given) counts the run's progress as it happens.
        Returns how many results were delivered.
        """
        from ray.util import ActorPool

        from pipeline.dispatch import Dispatch

        source = iter(tasks)
        first = next(source, None)
        if first is None:
            return 0
        # No wait for the leased actors to finish starting: each takes its first image as soon as
        # it is up (a backend that cannot be built fails the run, see Dispatch._on_crash).
        leased = self.fleet.lease(self.options.workers)
        source = itertools.chain([first], source)
        run = Dispatch(self.fleet, self.options, ActorPool(leased), len(leased), source, on_result, tracker)
        run.read_ahead = max(read_ahead or 0, len(leased))
        try:
            run.until_done(on_tick)
        finally:
            self.fleet.release(run.leased_actors())
        return run.delivered
