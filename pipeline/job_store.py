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

import contextlib
import datetime as dt
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import Field, ValidationError

from pipeline.schema import BatchProgress, JobStatus, ParseResponse, WireModel

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TERMINAL: frozenset[JobStatus] = frozenset({"done", "failed", "cancelled"})
REGISTRY_NAMESPACE = "karaoke"
DEFAULTS_NAME = "settings"  # settings.json beside the records: never a job id
HEARTBEAT_S = 0.2
Clock = Callable[[], dt.datetime]
ORPHAN_ERROR = "the server running this job stopped before it finished"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_job_id() -> str:
    """A random, unguessable job id (32 hex digits): knowing the id is what lets a client read the job."""
    return uuid.uuid4().hex


class JobRecord(WireModel):
    """What the server knows of one job: status, progress and, when done, the response."""

    job_id: str
    status: JobStatus = "queued"
    admin: bool = Field(default=False, description="an admin upload: its result needs approval")
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    expires_at: dt.datetime | None = Field(default=None, description="when the stored result is deleted")
    progress: BatchProgress
    result: ParseResponse | None = None
    error: str | None = Field(default=None, description="why a failed job failed")
    owner: str | None = Field(default=None, description="the store (replica) running it, while active")

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class JobFiles:
    """Job records as ``<job id>.json`` under a local directory or an fsspec URI."""

    def __init__(self, location: str | Path) -> None:
        from fsspec.core import url_to_fs

        self.location = str(location)
        self.fs, self.root = url_to_fs(self.location)
        self.local = isinstance(location, Path) or "://" not in self.location
        self.fs.makedirs(self.root, exist_ok=True)

    def write(self, record: JobRecord) -> None:
        """Write one record whole (a rename locally; object stores put atomically)."""
        text = record.to_wire_json()
        try:
            if self.local:
                write_json_atomically(Path(self.root) / f"{record.job_id}.json", text)
            else:
                self.fs.pipe_file(self._path(record.job_id), text.encode())
        except OSError as exc:  # a full or read-only disk must not kill the job
            log.error("cannot store job %s: %s", record.job_id, exc)

    def read(self, job_id: str) -> JobRecord | None:
        try:
            return JobRecord.model_validate_json(self.fs.cat_file(self._path(job_id)))
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            log.warning("ignoring unreadable job record %s: %s", job_id, exc)
            return None

    def delete(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(job_id))

    def job_ids(self) -> list[str]:
        names = [str(name).rsplit("/", 1)[-1] for name in self.fs.ls(self.root, detail=False)]
        return [name[:-5] for name in names if name.endswith(".json") and JOB_ID_PATTERN.match(name[:-5])]

    def read_defaults(self) -> RunDefaults:
        """The admin's run defaults stored beside the records (built-in ones when none are)."""
        try:
            return RunDefaults.model_validate_json(self.fs.cat_file(self._path(DEFAULTS_NAME)))
        except FileNotFoundError:
            return RunDefaults()
        except (OSError, ValidationError, ValueError) as exc:
            log.warning("ignoring unreadable run defaults in %s: %s", self.location, exc)
            return RunDefaults()

    def write_defaults(self, defaults: RunDefaults) -> None:
        text = defaults.to_wire_json(indent=2)
        if self.local:
            write_json_atomically(Path(self.root) / f"{DEFAULTS_NAME}.json", text)
        else:
            self.fs.pipe_file(self._path(DEFAULTS_NAME), text.encode())

    def _path(self, job_id: str) -> str:
        return f"{self.root.rstrip('/')}/{job_id}.json"


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


def write_json_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class RunDefaults(WireModel):
    """How requests run when they do not say: set by an admin, kept in the data dir."""

    default_workers: int = Field(default=3, ge=1, le=5, strict=True, description="workers per request, 1-5")
    mode: Literal["parallel", "sequential"] = Field(
        default="parallel", description="sequential runs every request one image at a time"
    )

    def workers_for(self, asked: int | None) -> int:
        """The worker count of a request that asked for ``asked`` (None: the default)."""
        if self.mode == "sequential":
            return 1
        return asked if asked is not None else self.default_workers


def load_run_defaults(path: Path) -> RunDefaults:
    """The stored defaults, or the built-in ones when none are stored or the file is unreadable."""
    try:
        return RunDefaults.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return RunDefaults()
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("ignoring unreadable run defaults %s: %s", path, exc)
        return RunDefaults()


def save_run_defaults(path: Path, defaults: RunDefaults) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, defaults.to_wire_json(indent=2))
