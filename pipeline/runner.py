"""Worker fleets: long-lived actors, lent out exclusively, replaced when they die.

``WorkerFleet`` owns long-lived worker actors and lends them out exclusively,
so many runs (HTTP requests, say) share actors and none pays to start them.
A run over leased actors is ``pipeline.pool.SupervisedPool`` (its state is a
``pipeline.dispatch.Dispatch``, which keeps its own table of every item in
flight, because a ``ray.util.ActorPool`` loses the item a dying actor held and
can drop queued items silently). ``PoolOptions`` says how one run is sized and
supervised. A fleet that is not pinned follows the load: ``pipeline.fleet_scaler``
adds workers while runs have images waiting and releases the ones idle for a while.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from pipeline.autoscale import FleetLoad, FleetScaling
from pipeline.backends.base import BackendOptions
from pipeline.errors import ConfigError, JobCancelled
from pipeline.fleet_scaler import FleetScaler
from pipeline.fleet_watch import DrainingActor, FleetWatch
from pipeline.metrics import metrics
from pipeline.pool_options import MAX_BATCH_WORKERS, MAX_WORKERS, MIN_WORKERS, FleetReadiness, PoolOptions
from pipeline.ratelimit import Priority
from pipeline.schema import ImageResult
from pipeline.worker import WorkerOptions, worker_actor_class

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle


__all__ = ["LEASE_STOP", "MAX_BATCH_WORKERS", "MAX_WORKERS", "MIN_WORKERS", "FleetReadiness", "PoolOptions"]
__all__ += ["WorkerFleet"]
log = logging.getLogger(__name__)
LATENCY_SAMPLES = 16  # the median of the last requests' times sizes a budgeted fleet
LATENCY_MIN_SAMPLES = 3  # a worker's first request is slow (connection set-up): never trust one alone

# A leased run waits for free workers through this check (set per thread by the job runner),
# so a cancelled job that is still waiting for workers ends at once instead of when they free up.
LEASE_STOP: ContextVar[Callable[[], bool] | None] = ContextVar("karaoke_lease_stop", default=None)


class WorkerFleet(FleetWatch):
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
        scaling: FleetScaling | None = None,
        rate_window_s: float = 60.0,
    ) -> None:
        """``named``: the actors are the detached, named ones ``<named>-<n>`` (a warm fleet that
        outlives this fleet object, see ``pipeline.runtime``): found when they exist, else made.
        ``scaling``: the bounds the fleet follows the load within (None: pinned at ``size``);
        ``size`` is then where it starts. ``rate_window_s``: the window of the budget's limits."""
        self.scaling = scaling or FleetScaling.pinned(size)
        size = min(max(size, self.scaling.min_workers), self.scaling.max_workers)
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
        self._draining: dict[ObjectRef[ImageResult], DrainingActor] = {}
        self._free: list[ActorHandle] = []
        self._idle_since: dict[ActorHandle, float] = {}  # free actors: since when
        self._wants: dict[object, int] = {}  # runs (and waiting leases): images waiting for a worker
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)  # the last requests' times
        self._floor = size  # ready once these have started; then once min_workers have
        self.target = size  # the size the scaler last aimed at
        self._changed = threading.Condition()
        self._closed = False
        metrics().worker_count("max", self.scaling.max_workers)
        self._make_free([self._start_actor() for _ in range(size)])
        self._watcher = threading.Thread(target=self._watch, name="karaoke-fleet-watch", daemon=True)
        self._watcher.start()
        self.scaler = None if self.scaling.is_pinned else FleetScaler(self, rate_window_s)

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
        should_stop, waiting = LEASE_STOP.get(), object()
        with self._changed:
            try:
                while not (leased := self._take(wanted, priority)):
                    if self._failed and len(self._failed) == len(self._worker_ids):
                        cause = next(iter(self._failed.values()))
                        raise ConfigError(f"no worker could start: {cause}")
                    if should_stop is not None and should_stop():
                        raise JobCancelled("cancelled while waiting for a free worker")
                    self._wants[waiting] = wanted  # a waiting run is load too: the fleet may grow for it
                    self._changed.wait(timeout=0.1 if should_stop is not None else 1.0)
            finally:
                self._wants.pop(waiting, None)
            return leased

    def lease_more(self, wanted: int, priority: Priority = "interactive") -> list[ActorHandle]:
        """Up to ``wanted`` more free actors for a run under way, without waiting (maybe none), while
        the fleet's leased actors stay within the scaler's target (surplus ones are left to go)."""
        with self._changed:
            room = self.target - (len(self._worker_ids) - len(self._free))
            return self._take(min(wanted, room), priority) if room > 0 else []

    def want(self, run: object, images: int) -> None:
        """How many of ``run``'s images wait for a worker it does not have (0: none): the load."""
        with self._changed:
            if images > 0:
                self._wants[run] = images
            else:
                self._wants.pop(run, None)

    def observe_latency(self, seconds: float) -> None:
        """Time one request took; the median of the last ones sizes a fleet that draws on a budget."""
        with self._changed:
            self._latencies.append(seconds)

    def load(self) -> tuple[FleetLoad, list[float]]:
        """The fleet's load now, and how long each free actor has been idle (seconds)."""
        now = time.monotonic()
        with self._changed:
            workers = len(self._worker_ids)
            timed = len(self._latencies) >= LATENCY_MIN_SAMPLES
            latency = statistics.median(self._latencies) if timed else None
            load = FleetLoad(workers, workers - len(self._free), sum(self._wants.values()), latency)
            idle = [
                now - self._idle_since.get(actor, now) if actor in self._ready else 0.0
                for actor in self._free
            ]
            return load, idle

    def surplus(self) -> int:
        """Workers beyond the scaler's last target: runs hand idle ones back (then they may go)."""
        return max(0, len(self._worker_ids) - self.target)

    def starting(self) -> int:
        """Actors started and not yet up (nor failed)."""
        with self._changed:
            return len(self._worker_ids) - len(self._ready) - len(self._failed)

    def grow(self, count: int) -> None:
        """Start ``count`` more actors (free once started); none while a worker fails to start."""
        with self._changed:
            if self._closed or self._failed:
                return
            self._make_free([self._start_actor() for _ in range(count)])
            self.size = len(self._worker_ids)
            self._changed.notify_all()

    def retire(self, count: int) -> int:
        """Stop up to ``count`` free actors idle for ``scaling.idle_s`` or longer, the longest idle
        first, never below ``scaling.min_workers``; a leased or busy actor is never touched."""
        import ray

        now = time.monotonic()
        with self._changed:
            if self._closed:
                return 0
            count = min(count, len(self._worker_ids) - self.scaling.min_workers)
            idle = sorted(self._free, key=lambda actor: self._idle_since.get(actor, now))
            idle = [actor for actor in idle if now - self._idle_since.get(actor, now) >= self.scaling.idle_s]
            idle = [actor for actor in idle if actor in self._ready]  # a starting one is not idle
            retired = idle[: max(count, 0)]
            for actor in retired:
                self._forget(actor)
            self.size = len(self._worker_ids)
        for actor in retired:
            metrics().worker_count("total", -1)
            ray.kill(actor, no_restart=True)
        return len(retired)

    def release(self, actors: Iterable[ActorHandle]) -> None:
        """Give leased actors back (dead ones must have gone through ``replace``)."""
        actors = list(actors)
        metrics().worker_count("leased", -len(actors))
        with self._changed:
            self._make_free([actor for actor in actors if actor in self._worker_ids])
            self._changed.notify_all()

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

        if self.scaler is not None:
            self.scaler.stop()
        with self._changed:
            self._closed = True
            actors, self._free = list(self._worker_ids), []
            self._idle_since.clear()
            self._wants.clear()
            self._worker_ids.clear()
            self._started.clear()
            self._ready.clear()
            self._draining.clear()
            self._changed.notify_all()
        metrics().worker_count("max", -self.scaling.max_workers)
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
        self._idle_since.pop(actor, None)
        if actor in self._free:
            self._free.remove(actor)
        return self._worker_ids.pop(actor, "?")

    def _make_free(self, actors: list[ActorHandle]) -> None:
        """Put actors in the free set, idle from now (the lock is held, or not shared yet)."""
        now = time.monotonic()
        self._free.extend(actors)
        self._idle_since.update((actor, now) for actor in actors)

    def _take(self, wanted: int, priority: Priority) -> list[ActorHandle]:
        """Lease up to ``wanted`` free actors a lease may take now; bulk work leaves the last
        ``interactive_workers`` (never all of a fleet). The lock is held."""
        # the most recently freed first: a hot set stays busy, the long idle ones can go
        if self.ready_only:
            leasable = [actor for actor in reversed(self._free) if actor in self._ready]
        else:
            leasable = [actor for actor in reversed(self._free) if actor not in self._failed]
        if priority == "bulk":
            kept = min(self.interactive_workers, len(self._worker_ids) - 1)
            leasable = leasable[: max(0, len(leasable) - kept)]
        leased = leasable[:wanted]
        if leased:
            self._free = [actor for actor in self._free if actor not in leased]
            for actor in leased:
                self._idle_since.pop(actor, None)
            metrics().worker_count("leased", len(leased))
        return leased
