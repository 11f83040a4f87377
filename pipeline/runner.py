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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.backends.base import BackendOptions
from pipeline.errors import ConfigError, JobCancelled
from pipeline.schema import ImageResult
from pipeline.worker import ImageTask, WorkerOptions, failed_result, worker_actor_class

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle
    from ray.util import ActorPool

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


class FleetReadiness(BaseModel):
    """How much of a fleet can take work now: what ``/readyz`` reports."""

    model_config = ConfigDict(frozen=True)
    ready: bool = Field(description="every worker the fleet wants has started")
    workers: int = Field(description="workers that have started and can be leased")
    wanted: int = Field(description="workers the fleet was sized for")
    waiting_for: str | None = Field(default=None, description="what the rest are waiting for, if any")

    def to_wire(self) -> dict[str, object]:
        body: dict[str, object] = {"ready": self.ready, "workers": self.workers, "wanted": self.wanted}
        if self.waiting_for is not None:
            body["waitingFor"] = self.waiting_for
        return body


# A leased run waits for free workers through this check (set per thread by the job runner),
# so a cancelled job that is still waiting for workers ends at once instead of when they free up.
LEASE_STOP: ContextVar[Callable[[], bool] | None] = ContextVar("karaoke_lease_stop", default=None)


class WorkerFleet:
    """Long-lived worker actors, lent out exclusively to one run at a time.

    Thread-safe: concurrent runs lease disjoint actors and wait when none is free.
    With ``ready_only`` (a server's fleet) a lease takes only workers whose backend
    has loaded, so an actor Ray cannot place is never handed to a request. Busy
    actors a run gives back early (cancelled, say) stay out of the free set until
    their image is done, or are replaced when it overruns its deadline.
    """

    def __init__(
        self,
        backend_options: BackendOptions,
        worker_options: WorkerOptions,
        size: int,
        progress: ActorHandle | None = None,
        limiter: ActorHandle | None = None,
        *,
        ready_only: bool = False,
    ) -> None:
        self.backend_options = backend_options
        self.worker_options = worker_options
        self.progress = progress
        self.limiter = limiter
        self.size = size
        self.ready_only = ready_only
        self._actor_class = worker_actor_class(worker_options)
        self._ids = itertools.count(1)
        self._worker_ids: dict[ActorHandle, str] = {}
        self._images_done: dict[ActorHandle, int] = {}
        self._started: dict[ActorHandle, ObjectRef[str]] = {}
        self._ready: set[ActorHandle] = set()
        self._failed: dict[ActorHandle, str] = {}
        self._draining: dict[ObjectRef[ImageResult], _Draining] = {}
        self._free: list[ActorHandle] = []
        self._changed = threading.Condition()
        self._closed = False
        for _ in range(size):
            self._free.append(self._start_actor())
        self._watcher = threading.Thread(target=self._watch, name="karaoke-fleet-watch", daemon=True)
        self._watcher.start()

    @property
    def actors(self) -> list[ActorHandle]:
        """Every live actor of the fleet, leased or free."""
        with self._changed:
            return list(self._worker_ids)

    def worker_id(self, actor: ActorHandle) -> str:
        return self._worker_ids.get(actor, "?")

    def lease(self, wanted: int) -> list[ActorHandle]:
        """Take up to ``wanted`` free actors (ready ones only, with ``ready_only``), waiting for one.

        Raises:
            ConfigError: no worker of the fleet could start (its backend cannot be built).
            JobCancelled: the thread's ``LEASE_STOP`` check said stop while waiting.
        """
        should_stop = LEASE_STOP.get()
        with self._changed:
            while True:
                leasable = self._leasable()
                if leasable:
                    leased = leasable[:wanted]
                    self._free = [actor for actor in self._free if actor not in leased]
                    return leased
                if self._failed and len(self._failed) == len(self._worker_ids):
                    cause = next(iter(self._failed.values()))
                    raise ConfigError(f"no worker could start: {cause}")
                if should_stop is not None and should_stop():
                    raise JobCancelled("cancelled while waiting for a free worker")
                self._changed.wait(timeout=0.1 if should_stop is not None else 1.0)

    def release(self, actors: Iterable[ActorHandle]) -> None:
        """Give leased actors back (dead ones must have gone through ``replace``)."""
        with self._changed:
            self._free.extend(actor for actor in actors if actor in self._worker_ids)
            self._changed.notify_all()

    def release_when_done(self, actor: ActorHandle, ref: ObjectRef[ImageResult], deadline: float) -> None:
        """Give back a busy actor once its image ``ref`` is done (its result is dropped).

        Past ``deadline`` (monotonic) the actor is replaced instead, and its successor freed.
        """
        with self._changed:
            if actor in self._worker_ids:
                self._draining[ref] = _Draining(actor, deadline)
                self._changed.notify_all()

    def readiness(self) -> FleetReadiness:
        """Ready when every wanted worker has started; otherwise what the rest wait for."""
        with self._changed:
            ready = len(self._ready)
            starting = len(self._worker_ids) - ready - len(self._failed)
            failed = list(self._failed.values())
        waiting: list[str] = []
        if starting:
            waiting.append(
                f"{starting} worker(s) starting (loading the backend, or waiting for {self._resource_note()})"
            )
        if failed:
            waiting.append(f"{len(failed)} worker(s) failed to start: {failed[0]}")
        return FleetReadiness(
            ready=ready >= self.size,
            workers=ready,
            wanted=self.size,
            waiting_for="; ".join(waiting) or None,
        )

    def replace(self, actor: ActorHandle, job_id: str) -> ActorHandle:
        """Kill a dead, stuck or worn actor; its fresh successor stays leased to the caller."""
        import ray

        with self._changed:
            worker_id = self._forget(actor)
            successor = self._start_actor()
            self._changed.notify_all()
        ray.kill(actor, no_restart=True)
        if self.progress is not None:
            self.progress.worker_gone.remote(job_id, worker_id)
        return successor

    def due_for_recycling(self, actor: ActorHandle) -> bool:
        """Count one finished image; True when the actor reached ``recycle_after``."""
        with self._changed:
            self._images_done[actor] = self._images_done.get(actor, 0) + 1
            limit = self.worker_options.recycle_after
            return bool(limit) and self._images_done[actor] >= limit

    def close(self) -> None:
        """Kill every actor of the fleet."""
        import ray

        with self._changed:
            self._closed = True
            actors, self._free = list(self._worker_ids), []
            self._worker_ids.clear()
            self._started.clear()
            self._ready.clear()
            self._draining.clear()
            self._changed.notify_all()
        for actor in actors:
            ray.kill(actor, no_restart=True)

    def _start_actor(self) -> ActorHandle:
        worker_id = f"worker-{next(self._ids)}"
        actor = self._actor_class.remote(
            self.backend_options, self.worker_options, worker_id, self.progress, self.limiter
        )
        self._worker_ids[actor] = worker_id
        self._started[actor] = actor.ping.remote()  # resolves once the backend is loaded
        return actor

    def _forget(self, actor: ActorHandle) -> str:
        """Drop an actor from every table (the lock is held); returns its worker id."""
        self._images_done.pop(actor, None)
        self._started.pop(actor, None)
        self._ready.discard(actor)
        self._failed.pop(actor, None)
        if actor in self._free:
            self._free.remove(actor)
        return self._worker_ids.pop(actor, "?")

    def _leasable(self) -> list[ActorHandle]:
        """Free actors a lease may take now (the lock is held)."""
        if self.ready_only:
            return [actor for actor in self._free if actor in self._ready]
        return [actor for actor in self._free if actor not in self._failed]

    def _resource_note(self) -> str:
        import ray

        try:
            free_cpus = ray.available_resources().get("CPU", 0.0)
        except Exception:  # a lost GCS: readiness still answers
            return f"{self.worker_options.num_cpus:g} CPU each"
        return f"{self.worker_options.num_cpus:g} CPU each; Ray reports {free_cpus:g} CPU free"

    def _watch(self) -> None:
        """Mark workers ready as they start, and free (or replace) busy actors given back early."""
        import ray

        while True:
            with self._changed:
                if self._closed:
                    return
                starting = {ref: actor for actor, ref in self._started.items() if actor not in self._ready}
                starting = {ref: actor for ref, actor in starting.items() if actor not in self._failed}
                refs = [*starting, *self._draining]
                if not refs:
                    self._changed.wait(timeout=0.5)
                    continue
            try:
                done, rest = ray.wait(refs, num_returns=1, timeout=0.25)
                if done and rest:
                    done += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            except Exception as exc:  # Ray going away under the thread: stop watching
                log.debug("fleet watcher stops: %s", exc)
                return
            for ref in done:
                if ref in starting:
                    self._started_one(starting[ref], ref)
                else:
                    self._drained(ref, timed_out=False)
            now = time.monotonic()
            with self._changed:
                overdue = [ref for ref, item in self._draining.items() if item.deadline <= now]
            for ref in overdue:
                self._drained(ref, timed_out=True)

    def _started_one(self, actor: ActorHandle, ref: ObjectRef[str]) -> None:
        import ray
        from ray.exceptions import RayActorError

        try:
            ray.get(ref, timeout=0)
        except RayActorError as exc:
            cause = str(exc).strip().splitlines()[-1] if exc.actor_init_failed else "the actor died"
            idle = False
            with self._changed:
                if actor in self._worker_ids:
                    self._failed[actor] = cause
                    idle = actor in self._free
                self._changed.notify_all()
            if not exc.actor_init_failed and idle and not self._closed:
                self.release([self.replace(actor, "")])  # a free actor that died: a fresh one instead
            return
        except Exception:  # any other answer still means the actor runs
            pass
        with self._changed:
            if actor in self._worker_ids:
                self._ready.add(actor)
            self._changed.notify_all()

    def _drained(self, ref: ObjectRef[ImageResult], *, timed_out: bool) -> None:
        import ray
        from ray.exceptions import RayActorError

        with self._changed:
            item = self._draining.pop(ref, None)
        if item is None or self._closed:
            return
        died = False
        if not timed_out:
            try:
                ray.get(ref, timeout=0)
            except RayActorError:
                died = True
            except Exception:  # the image failed; the actor is fine
                pass
        if timed_out or died:
            self.release([self.replace(item.actor, "")])
        else:
            self.release([item.actor])

    def is_ready(self, actor: ActorHandle) -> bool:
        """Whether the actor has finished starting (its backend is loaded)."""
        import ray

        if actor in self._ready:
            return True
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


@dataclass
class _Draining:
    actor: ActorHandle
    deadline: float


@dataclass
class _InFlight:
    actor: ActorHandle
    worker_id: str
    task: ImageTask
    deadline: float


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
    ) -> list[ImageResult]:
        """Process every task; one result per task, in the order tasks were given."""
        tasks = list(tasks)
        results: dict[int, ImageResult] = {}

        def keep(result: ImageResult) -> None:
            results[result.image_index] = result
            if on_result is not None:
                on_result(result)

        self.stream(tasks, keep, on_tick)
        order = [task.payload.index for task in tasks]
        assert sorted(results) == sorted(order), "every input must yield exactly one result"
        return [results[index] for index in order]

    def stream(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback,
        on_tick: Callable[[], None] | None = None,
        read_ahead: int | None = None,
    ) -> int:
        """Process tasks pulled lazily from ``tasks``; each result goes to ``on_result``, none is kept.

        At most ``read_ahead`` tasks (default: the pool size) are taken from the
        iterator and not yet finished, so memory stays flat however long it is.
        Returns how many results were delivered.
        """
        from ray.util import ActorPool

        source = iter(tasks)
        first = next(source, None)
        if first is None:
            return 0
        leased = self.fleet.lease(self.options.workers)
        try:
            self.fleet.wait_ready(leased, self.options.startup_timeout_s)
        except ConfigError:
            self.fleet.release(leased)
            raise
        run = _Run(self, ActorPool(leased), len(leased), itertools.chain([first], source), on_result)
        run.read_ahead = max(read_ahead or 0, len(leased))
        try:
            run.until_done(on_tick)
        finally:
            self._give_back(run)
        return run.delivered

    def _give_back(self, run: _Run) -> None:
        """Idle actors go back at once; busy ones (a run stopped early) once their image is done.

        A busy actor handed back as free would make the next run queue behind an
        image nobody wants; its result is dropped, or it is replaced if it overruns.
        """
        idle = []
        while (actor := run.actors.pop_idle()) is not None:
            idle.append(actor)
        self.fleet.release(idle)
        for ref, item in run.in_flight.items():
            self.fleet.release_when_done(item.actor, ref, item.deadline)


class _Run:
    """The state of one ``SupervisedPool.stream``: the queue and the table of items in flight."""

    def __init__(
        self,
        pool: SupervisedPool,
        actors: ActorPool,
        size: int,
        source: Iterator[ImageTask],
        on_result: ResultCallback,
    ) -> None:
        self.fleet = pool.fleet
        self.options = pool.options
        self.actors = actors
        self.size = size  # actors leased; replacements keep it constant
        self.source: Iterator[ImageTask] | None = source
        self.queue: deque[ImageTask] = deque()  # read ahead of the source, retries first
        self.read_ahead = size
        self.on_result = on_result
        self.delivered = 0
        self.in_flight: dict[ObjectRef[ImageResult], _InFlight] = {}

    def until_done(self, on_tick: Callable[[], None] | None) -> None:
        import ray

        next_tick = 0.0
        while self._refill() or self.in_flight:
            self._submit_free(self._worker_cap())
            if not self.in_flight:  # cannot happen: free actors take queued work above
                raise RuntimeError("work is queued but no actor is free or busy")
            ready, waiting = ray.wait(list(self.in_flight), num_returns=1, timeout=self._wait_time())
            if ready and waiting:  # collect everything else already done in the same pass
                ready += ray.wait(waiting, num_returns=len(waiting), timeout=0)[0]
            for ref in ready:
                self._collect(ref, self.in_flight.pop(ref))
            self._expire()
            if on_tick is not None and time.monotonic() >= next_tick:
                on_tick()
                next_tick = time.monotonic() + self.options.poll_interval_s

    def _refill(self) -> bool:
        """Top the queue up from the source; False when nothing is left to submit."""
        while self.source is not None and len(self.queue) + len(self.in_flight) < self.read_ahead:
            task = next(self.source, None)
            if task is None:
                self.source = None
            else:
                self.queue.append(task)
        return bool(self.queue)

    def leased_actors(self) -> list[ActorHandle]:
        """Every actor this run holds: the idle ones, and the busy ones if it stopped early."""
        held = [item.actor for item in self.in_flight.values()]
        while (actor := self.actors.pop_idle()) is not None:
            held.append(actor)
        return held

    def _worker_cap(self) -> int:
        """How many actors may be busy now: all leased ones, fewer while the API pushes back."""
        import ray

        if self.fleet.limiter is None:
            return self.size
        cap: int = ray.get(self.fleet.limiter.worker_cap.remote(self.size))
        return cap

    def _submit_free(self, cap: int) -> None:
        while self.queue and self.actors.has_free() and len(self.in_flight) < cap:
            actor = self.actors.pop_idle()
            task = self.queue.popleft()
            ref = actor.process.remote(task)
            # a fresh replacement first loads its backend: that time is not the image's
            grace = 0.0 if self.fleet.is_ready(actor) else self.options.startup_timeout_s
            deadline = time.monotonic() + self.options.image_timeout_s + grace
            self.in_flight[ref] = _InFlight(actor, self.fleet.worker_id(actor), task, deadline)

    def _wait_time(self) -> float:
        next_deadline = min(item.deadline for item in self.in_flight.values())
        return max(0.0, min(next_deadline - time.monotonic(), self.options.poll_interval_s))

    def _collect(self, ref: ObjectRef[ImageResult], item: _InFlight) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        try:
            result: ImageResult = ray.get(ref)
        except RayActorError as exc:
            self._on_crash(item, exc)
            return
        except RayTaskError as exc:  # the backend raised: only with raise_errors, or a bug
            if self.fleet.worker_options.raise_errors:
                raise
            result = failed_result(item.task.payload, "upstream_error", str(exc.cause), item.task.attempt)
        self._finish(result, item)
        if self.fleet.due_for_recycling(item.actor):
            self.actors.push(self.fleet.replace(item.actor, item.task.job_id))
        else:
            self.actors.push(item.actor)

    def _on_crash(self, item: _InFlight, exc: Exception) -> None:
        task = item.task
        log.warning("%s died on %s (attempt %d): %s", item.worker_id, task.payload.source, task.attempt, exc)
        self.actors.push(self.fleet.replace(item.actor, task.job_id))
        if task.attempt < self.options.max_attempts:
            self.queue.appendleft(task.model_copy(update={"attempt": task.attempt + 1}))
            if self.fleet.progress is not None:
                self.fleet.progress.add_retry.remote(task.job_id)
            return
        message = f"worker died on each of {task.attempt} attempts; last: {type(exc).__name__}"
        self._finish(failed_result(task.payload, "worker_crashed", message, task.attempt), item)

    def _expire(self) -> None:
        now = time.monotonic()
        for ref, item in list(self.in_flight.items()):
            if item.deadline <= now:
                del self.in_flight[ref]
                timeout = self.options.image_timeout_s
                message = f"no result within {timeout:g} s; worker {item.worker_id} replaced"
                result = failed_result(item.task.payload, "timeout", message, item.task.attempt)
                result.processing_time = timeout * 1000
                self._finish(result, item)
                self.actors.push(self.fleet.replace(item.actor, item.task.job_id))

    def _finish(self, result: ImageResult, item: _InFlight) -> None:
        self.delivered += 1
        progress = self.fleet.progress
        # The driver reports every result, even those a worker already reported (reports are
        # idempotent by image index): Ray keeps one caller's calls in order, so the progress this
        # driver reads next never lags behind the results it holds, and no worker waits on it.
        # Busy workers are tracked by the workers' own ordered start/finish reports alone.
        if progress is not None:
            progress.image_finished.remote(
                item.task.job_id, result.image_index, result.success, result.processing_time
            )
        self.on_result(result)
