"""The part of a worker fleet that watches its actors: start-up, readiness, and busy
actors given back early (drained when their image is done, replaced when it overruns).

``FleetWatch`` is the base of ``pipeline.runner.WorkerFleet``; its watcher thread
marks actors ready as their backend loads, so a lease can take only started ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.autoscale import FleetScaling
from pipeline.errors import ConfigError
from pipeline.pool_options import FleetReadiness
from pipeline.schema import ImageResult
from pipeline.worker import WorkerOptions

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)


class FleetWatch:
    """Start-up and drain bookkeeping of a fleet; the fleet holds the lock and the tables."""

    worker_options: WorkerOptions
    scaling: FleetScaling
    size: int
    _changed: threading.Condition
    _closed: bool
    _floor: int
    _worker_ids: dict[ActorHandle, str]
    _started: dict[ActorHandle, ObjectRef[str]]
    _ready: set[ActorHandle]
    _failed: dict[ActorHandle, str]
    _free: list[ActorHandle]
    _idle_since: dict[ActorHandle, float]
    _draining: dict[ObjectRef[ImageResult], DrainingActor]

    def release(self, actors: Iterable[ActorHandle]) -> None:
        raise NotImplementedError

    def replace(self, actor: ActorHandle, job_id: str) -> ActorHandle:
        raise NotImplementedError

    def release_when_done(self, actor: ActorHandle, ref: ObjectRef[ImageResult], deadline: float) -> None:
        """Give back a busy actor once its image ``ref`` is done (its result is dropped).

        Past ``deadline`` (monotonic) the actor is replaced instead, and its successor freed.
        """
        with self._changed:
            if actor in self._worker_ids:
                self._draining[ref] = DrainingActor(actor, deadline)
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
        with self._changed:
            if ready >= self._floor:  # started up: from now on the floor is what it keeps
                self._floor = min(self._floor, self.scaling.min_workers)
        return FleetReadiness(
            ready=ready >= min(self._floor, self.size),
            workers=ready,
            wanted=self.size,
            waiting_for="; ".join(waiting) or None,
        )

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
                if actor in self._idle_since:  # loading its backend was not idleness
                    self._idle_since[actor] = time.monotonic()
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
class DrainingActor:
    actor: ActorHandle
    deadline: float
