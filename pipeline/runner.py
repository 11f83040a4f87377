"""Worker fleets: long-lived actors, lent out exclusively, replaced when they die.

``WorkerFleet`` owns long-lived worker actors and lends them out exclusively,
so many runs (HTTP requests, say) share actors and none pays to start them.
A run over leased actors is ``pipeline.pool.SupervisedPool`` (its state is a
``pipeline.dispatch.Dispatch``, which keeps its own table of every item in
flight, because a ``ray.util.ActorPool`` loses the item a dying actor held and
can drop queued items silently). ``PoolOptions`` says how one run is sized and
supervised.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.backends.base import BackendOptions
from pipeline.errors import ConfigError, JobCancelled
from pipeline.metrics import metrics
from pipeline.ratelimit import Priority
from pipeline.schema import ImageResult
from pipeline.worker import WorkerOptions, worker_actor_class

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle


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
    has loaded, so an actor Ray cannot place is never handed to a request. With
    ``interactive_workers`` (a fleet that serves users and bulk jobs alike), a bulk run
    never takes the last that many free workers: a user's request finds one free. Busy
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
        named: str | None = None,
        interactive_workers: int = 0,
    ) -> None:
        """``named``: the actors are the detached, named ones ``<named>-<n>`` (a warm fleet that
        outlives this fleet object, see ``pipeline.runtime``): found when they exist, else made."""
        self.backend_options = backend_options
        self.worker_options = worker_options
        self.progress = progress
        self.limiter = limiter
        self.size = size
        self.ready_only = ready_only
        self.named = named
        self.interactive_workers = interactive_workers
        self._warm: set[ActorHandle] = set()
        self._warm_left = size if named is not None else 0
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

    def lease(self, wanted: int, priority: Priority = "interactive") -> list[ActorHandle]:
        """Take up to ``wanted`` free actors (ready ones only, with ``ready_only``), waiting for one;
        bulk work leaves the last ``interactive_workers`` free ones (never all of a fleet).

        Raises:
            ConfigError: no worker of the fleet could start (its backend cannot be built).
            JobCancelled: the thread's ``LEASE_STOP`` check said stop while waiting.
        """
        should_stop = LEASE_STOP.get()
        with self._changed:
            while True:
                leasable = self._leasable()
                if priority == "bulk":
                    kept = min(self.interactive_workers, len(self._worker_ids) - 1)
                    leasable = leasable[: max(0, len(leasable) - kept)]
                if leasable:
                    leased = leasable[:wanted]
                    self._free = [actor for actor in self._free if actor not in leased]
                    metrics().worker_count("leased", len(leased))
                    return leased
                if self._failed and len(self._failed) == len(self._worker_ids):
                    cause = next(iter(self._failed.values()))
                    raise ConfigError(f"no worker could start: {cause}")
                if should_stop is not None and should_stop():
                    raise JobCancelled("cancelled while waiting for a free worker")
                self._changed.wait(timeout=0.1 if should_stop is not None else 1.0)

    def release(self, actors: Iterable[ActorHandle]) -> None:
        """Give leased actors back (dead ones must have gone through ``replace``)."""
        actors = list(actors)
        metrics().worker_count("leased", -len(actors))
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
            self._closed = True
            actors, self._free = list(self._worker_ids), []
            self._worker_ids.clear()
            self._started.clear()
            self._ready.clear()
            self._draining.clear()
            self._changed.notify_all()
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
        actor = actor_class.remote(self.backend_options, self.worker_options, worker_id)
        metrics().worker_count("total", 1)
        if warm:
            self._warm.add(actor)
        self._worker_ids[actor] = worker_id
        self._started[actor] = actor.ping.remote()  # resolves once the backend is loaded
        return actor

    def _forget(self, actor: ActorHandle) -> str:
        """Drop an actor from every table (the lock is held); returns its worker id."""
        self._images_done.pop(actor, None)
        self._started.pop(actor, None)
        self._ready.discard(actor)
        self._warm.discard(actor)
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

    def start_failure(self, actor: ActorHandle) -> str | None:
        """Why this actor could not start (its backend cannot be built), or None."""
        with self._changed:
            return self._failed.get(actor)

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
