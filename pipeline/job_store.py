"""Records of asynchronous parse jobs, shared by every Serve replica, and the admin's run defaults.

``JobRegistry`` holds every job's ``JobRecord``: active ones in memory
(progress changes several times a second), every one as JSON in a
``JobFiles`` location (a local directory or an fsspec URI such as
``s3://bucket/jobs``) when it is created and when it ends, so results outlive
the process. In a server the registry is one detached, restartable Ray actor
per jobs location, so every replica on every node reads and writes the same
records; ``JobStore`` is a replica's client of it (or wraps an in-process
registry, without Ray).

Each active job has an owner (the store, so the replica, that runs it). Owners
send a heartbeat several times a second and learn which of their jobs were
cancelled through any replica; a job whose owner has been silent for
``orphan_after_s`` (its replica is gone) is marked ``failed``, and no other.
A record expires ``ttl_s`` after its job ended.

File names are job ids the server generated (32 hex digits); any other id is
refused before storage is touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pipeline.job_files import (
    JOB_ID_PATTERN,
    TERMINAL,
    JobFiles,
    JobRecord,
    RunDefaults,
    load_run_defaults,
    new_job_id,
    save_run_defaults,
    utc_now,
    write_json_atomically,
)
from pipeline.schema import BatchProgress, JobStatus, ParseResponse

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)
__all__ = [
    "JOB_ID_PATTERN",
    "ORPHAN_ERROR",
    "TERMINAL",
    "JobFiles",
    "JobRecord",
    "JobRegistry",
    "JobStore",
    "RunDefaults",
    "load_run_defaults",
    "new_job_id",
    "registry_actor",
    "save_run_defaults",
    "utc_now",
    "write_json_atomically",
]

REGISTRY_NAMESPACE = "karaoke"
HEARTBEAT_S = 0.2
Clock = Callable[[], dt.datetime]
ORPHAN_ERROR = "the server running this job stopped before it finished"


class JobRegistry:
    """Every job's record: active ones in memory, all in ``JobFiles``. Thread-safe.

    In-process (no owners heartbeating) ``orphan_after_s=0`` marks jobs left active
    by an earlier process failed at once; a shared registry gives owners time to
    report in after it restarts.
    """

    def __init__(
        self,
        location: str | Path,
        ttl_s: float,
        *,
        orphan_after_s: float = 0.0,
        clock: Clock = utc_now,
        beat_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = JobFiles(location)
        self.beat_clock = beat_clock
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.orphan_after_s = orphan_after_s
        self.clock = clock
        self._active: dict[str, JobRecord] = {}
        self._expiry: dict[str, dt.datetime] = {}
        self._cancel: set[str] = set()
        self._heard: dict[str, float] = {}  # owner -> monotonic time of its last heartbeat
        self._defaults: RunDefaults | None = None
        self._lock = threading.RLock()
        self._load()

    def ping(self) -> bool:
        return True

    def run_defaults(self) -> RunDefaults:
        with self._lock:
            if self._defaults is None:
                self._defaults = self.files.read_defaults()
            return self._defaults

    def set_run_defaults(self, defaults: RunDefaults) -> None:
        self.files.write_defaults(defaults)
        with self._lock:
            self._defaults = defaults

    def create(self, total_images: int, admin: bool, owner: str | None) -> JobRecord:
        """A new queued job (its id is random); expired records are purged first."""
        self.purge_expired()
        job_id = new_job_id()
        progress = BatchProgress(job_id=job_id, total_images=total_images, remaining_images=total_images)
        record = JobRecord(
            job_id=job_id, admin=admin, created_at=self.clock(), progress=progress, owner=owner
        )
        with self._lock:
            self._active[job_id] = record
            if owner is not None:
                self._heard[owner] = self.beat_clock()
        self.files.write(record)
        return record

    def get(self, job_id: str) -> JobRecord | None:
        """The record of a job, or None when unknown, expired or not a valid id."""
        if not JOB_ID_PATTERN.match(job_id):
            return None
        with self._lock:
            record = self._active.get(job_id)
            if record is not None:
                return record.model_copy()
            expires = self._expiry.get(job_id)
        if expires is not None and expires <= self.clock():
            self._expire(job_id)
            return None
        return self.files.read(job_id) if expires is not None else None

    def active(self, owner: str | None = None) -> list[JobRecord]:
        with self._lock:
            records = list(self._active.values())
        return [record for record in records if owner is None or record.owner == owner]

    def update(self, job_id: str, status: JobStatus | None, progress: BatchProgress | None) -> None:
        """Record a running job's status or latest progress (ignored once it has ended)."""
        with self._lock:
            record = self._active.get(job_id)
            if record is None:
                return
            status = status or record.status
            progress = (progress or record.progress).model_copy(update={"job_id": job_id, "status": status})
            self._active[job_id] = record.model_copy(update={"status": status, "progress": progress})

    def finish(
        self, job_id: str, status: JobStatus, result: ParseResponse | None = None, error: str | None = None
    ) -> None:
        """End a job and store its record; the first end wins, later calls change nothing."""
        now = self.clock()
        with self._lock:
            record = self._active.pop(job_id, None)
            self._cancel.discard(job_id)
            if record is None:
                return
            self._expiry[job_id] = now + self.ttl
        progress = record.progress.model_copy(update={"status": status, "active_workers": 0})
        changes: dict[str, object] = {
            "status": status,
            "progress": progress,
            "finished_at": now,
            "result": result,
        }
        changes |= {"expires_at": now + self.ttl, "error": error, "owner": None}
        self.files.write(record.model_copy(update=changes))

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Ask a job to stop (its owner learns it at its next heartbeat); a queued one ends at once."""
        with self._lock:
            record = self._active.get(job_id)
            if record is not None:
                self._cancel.add(job_id)
        if record is not None and record.status == "queued":
            self.finish(job_id, "cancelled")
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancel or job_id not in self._active

    def heartbeat(self, owner: str) -> list[str]:
        """An owner is alive: returns its jobs whose cancellation was asked; ends orphans' jobs."""
        with self._lock:
            self._heard[owner] = self.beat_clock()
            mine = [self._active.get(job_id) for job_id in self._cancel]
            cancelled = [record.job_id for record in mine if record is not None and record.owner == owner]
        self.fail_orphans()
        return cancelled

    def fail_orphans(self) -> int:
        """Mark failed the active jobs whose owner has been silent too long; returns how many."""
        now = self.beat_clock()
        with self._lock:
            gone = [
                record.job_id
                for record in self._active.values()
                if now - self._heard.get(record.owner or "", -1e9) >= self.orphan_after_s
            ]
        for job_id in gone:
            self.finish(job_id, "failed", error=ORPHAN_ERROR)
        return len(gone)

    def forget_owner(self, owner: str) -> None:
        """An owner that stops cleanly: its jobs are orphans from now on."""
        with self._lock:
            self._heard.pop(owner, None)
        self.fail_orphans()

    def purge_expired(self) -> int:
        """Delete stored records whose job ended more than ``ttl_s`` ago; returns how many."""
        now = self.clock()
        with self._lock:
            expired = [job_id for job_id, when in self._expiry.items() if when <= now]
        for job_id in expired:
            self._expire(job_id)
        return len(expired)

    def _expire(self, job_id: str) -> None:
        with self._lock:
            self._expiry.pop(job_id, None)
        self.files.delete(job_id)

    def _load(self) -> None:
        """Index stored records; active ones get ``orphan_after_s`` for their owner to report in."""
        started = self.beat_clock()
        for job_id in self.files.job_ids():
            record = self.files.read(job_id)
            if record is None:
                continue
            if record.finished:
                self._expiry[job_id] = record.expires_at or self.clock()
                continue
            self._active[job_id] = record
            if record.owner is not None:
                self._heard.setdefault(record.owner, started)
        self.fail_orphans()


class JobStore:
    """One replica's view of the job records: a client of a shared registry actor, or of an
    in-process ``JobRegistry`` (tests, one process). Thread-safe.

    Cancellation asked through any replica reaches the owner within a heartbeat
    (``HEARTBEAT_S``), so ``cancel_requested`` is a local lookup a run can make on
    every tick.
    """

    def __init__(
        self,
        location: str | Path,
        ttl_s: float,
        clock: Clock = utc_now,
        *,
        registry: ActorHandle | None = None,
    ) -> None:
        self.owner = uuid.uuid4().hex[:16]
        self._actor = registry
        self._local = JobRegistry(location, ttl_s, clock=clock) if registry is None else None
        self._mine: set[str] = set()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        if registry is not None:
            self._heartbeats = threading.Thread(target=self._beat, name="karaoke-job-heartbeat", daemon=True)
            self._heartbeats.start()

    @classmethod
    def shared(cls, location: str | Path, ttl_s: float, orphan_after_s: float = 10.0) -> JobStore:
        """A client of the cluster's registry for ``location`` (started on first use)."""
        return cls(location, ttl_s, registry=registry_actor(location, ttl_s, orphan_after_s))

    def create(self, total_images: int, *, admin: bool = False) -> JobRecord:
        record = cast(JobRecord, self._call("create", total_images, admin, self.owner))
        with self._lock:
            self._mine.add(record.job_id)
        return record

    def get(self, job_id: str) -> JobRecord | None:
        return cast("JobRecord | None", self._call("get", job_id))

    def active(self) -> list[JobRecord]:
        return cast("list[JobRecord]", self._call("active", self.owner))

    def mark_running(self, job_id: str) -> None:
        self._call("update", job_id, "running", None)

    def update_progress(self, job_id: str, progress: BatchProgress) -> None:
        """Record the latest progress of an active job (not waited for: it is sent again soon)."""
        if self._actor is not None:
            self._actor.update.remote(job_id, None, progress)
        else:
            self._call("update", job_id, None, progress)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: ParseResponse | None = None,
        error: str | None = None,
    ) -> None:
        self._call("finish", job_id, status, result, error)
        with self._lock:
            self._mine.discard(job_id)
            self._cancelled.discard(job_id)

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Ask a job to stop, whichever replica runs it; None when unknown."""
        with self._lock:
            if job_id in self._mine:
                self._cancelled.add(job_id)
        return cast("JobRecord | None", self._call("request_cancel", job_id))

    def cancel_requested(self, job_id: str) -> bool:
        if self._actor is None:
            return cast(bool, self._call("cancel_requested", job_id))
        with self._lock:
            return job_id in self._cancelled or job_id not in self._mine

    def purge_expired(self) -> int:
        return cast(int, self._call("purge_expired"))

    def run_defaults(self) -> RunDefaults:
        """The admin's run defaults, the same for every replica."""
        return cast(RunDefaults, self._call("run_defaults"))

    def set_run_defaults(self, defaults: RunDefaults) -> None:
        self._call("set_run_defaults", defaults)

    def close(self) -> None:
        """Stop the heartbeat; this store's unfinished jobs become orphans."""
        self._stopped.set()
        if self._actor is not None:
            self._actor.forget_owner.remote(self.owner)

    def _call(self, method: str, *args: Any) -> Any:
        if self._local is not None:
            return getattr(self._local, method)(*args)
        import ray

        return ray.get(getattr(self._actor, method).remote(*args))

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                cancelled = self._call("heartbeat", self.owner)
            except Exception as exc:  # the registry restarts: try again on the next beat
                log.warning("job registry did not answer the heartbeat: %s", type(exc).__name__)
                continue
            with self._lock:
                self._cancelled.update(job_id for job_id in cancelled if job_id in self._mine)


def registry_actor(location: str | Path, ttl_s: float, orphan_after_s: float) -> ActorHandle:
    """The cluster's one registry for ``location``: detached, restarted if it dies, get-or-create."""
    import hashlib

    import ray

    name = "karaoke-jobs-" + hashlib.sha256(str(location).encode()).hexdigest()[:16]
    actor_class = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(JobRegistry)
    return actor_class.options(
        name=name, namespace=REGISTRY_NAMESPACE, get_if_exists=True, lifetime="detached"
    ).remote(location, ttl_s, orphan_after_s=orphan_after_s)
