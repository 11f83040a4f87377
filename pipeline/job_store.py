"""Records of asynchronous parse jobs, and the run defaults an admin can change.

A ``JobRecord`` lives in memory while its job is queued or running (progress
changes several times a second) and is written to ``<dir>/<job id>.json`` when
it is created and when it ends; finished records are read back from disk, so
they survive a restart of the server. A record expires ``ttl_s`` after its job
ended. A record still marked active on disk when a store opens belongs to a
server that stopped mid-job: it is marked ``failed`` rather than left running
forever.

File names are job ids the server generated (32 hex digits); any other id is
refused before the file system is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipeline.schema import BatchProgress, JobStatus, ParseResponse, WireModel

log = logging.getLogger(__name__)

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TERMINAL: frozenset[JobStatus] = frozenset({"done", "failed", "cancelled"})
Clock = Callable[[], dt.datetime]


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

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class JobStore:
    """Job records by id: active ones in memory, every one on disk. Thread-safe."""

    def __init__(self, directory: Path, ttl_s: float, clock: Clock = utc_now) -> None:
        self.directory = directory
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.clock = clock
        self._active: dict[str, JobRecord] = {}
        self._cancel: set[str] = set()
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._recover()

    def create(self, total_images: int, *, admin: bool = False) -> JobRecord:
        """A new queued job (its id is random); expired records are purged first."""
        self.purge_expired()
        job_id = new_job_id()
        progress = BatchProgress(job_id=job_id, total_images=total_images, remaining_images=total_images)
        record = JobRecord(job_id=job_id, admin=admin, created_at=self.clock(), progress=progress)
        with self._lock:
            self._active[job_id] = record
            self._write(record)
            return record.model_copy()

    def get(self, job_id: str) -> JobRecord | None:
        """The record of a job, or None when unknown, expired or not a valid id."""
        if not JOB_ID_PATTERN.match(job_id):
            return None
        with self._lock:
            record = self._active.get(job_id)
            if record is not None:
                return record.model_copy()
        record = self._read(self._path(job_id))
        if record is not None and record.expires_at is not None and record.expires_at <= self.clock():
            self._path(job_id).unlink(missing_ok=True)
            return None
        return record

    def active(self) -> list[JobRecord]:
        with self._lock:
            return [record.model_copy() for record in self._active.values()]

    def mark_running(self, job_id: str) -> None:
        self._update(job_id, status="running")

    def update_progress(self, job_id: str, progress: BatchProgress) -> None:
        """Record the latest progress of an active job (ignored once it has ended)."""
        self._update(job_id, progress=progress)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: ParseResponse | None = None,
        error: str | None = None,
    ) -> None:
        """End a job and write its record; the first end wins, later calls change nothing."""
        now = self.clock()
        with self._lock:
            record = self._active.pop(job_id, None)
            self._cancel.discard(job_id)
            if record is None:
                return
            progress = record.progress.model_copy(update={"status": status, "active_workers": 0})
            ended = record.model_copy(
                update={
                    "status": status,
                    "progress": progress,
                    "finished_at": now,
                    "expires_at": now + self.ttl,
                    "result": result,
                    "error": error,
                }
            )
            self._write(ended)

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Ask a job to stop; a queued one is cancelled at once. None when unknown."""
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

    def purge_expired(self) -> int:
        """Delete stored records whose job ended more than ``ttl_s`` ago; returns how many."""
        cutoff = (self.clock() - self.ttl).timestamp()
        removed = 0
        for path in self.directory.glob("*.json"):
            try:
                if path.stat().st_mtime <= cutoff and path.stem not in self._active:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            record = self._active.get(job_id)
            if record is not None:
                status = changes.get("status", record.status)
                progress = changes.get("progress", record.progress)
                assert isinstance(progress, BatchProgress)
                changes["progress"] = progress.model_copy(update={"job_id": job_id, "status": status})
                self._active[job_id] = record.model_copy(update=changes)

    def _recover(self) -> None:
        """Mark jobs a stopped server left active as failed."""
        for path in self.directory.glob("*.json"):
            record = self._read(path)
            if record is None or record.finished:
                continue
            self._active[record.job_id] = record
            self.finish(record.job_id, "failed", error="the server stopped before this job finished")

    def _path(self, job_id: str) -> Path:
        return self.directory / f"{job_id}.json"

    def _write(self, record: JobRecord) -> None:
        """Write atomically (temp file + rename), so a reader never sees half a record."""
        try:
            write_json_atomically(self._path(record.job_id), record.to_wire_json())
        except OSError as exc:  # a full or read-only disk must not kill the job thread
            log.error("cannot store job %s: %s", record.job_id, exc)

    def _read(self, path: Path) -> JobRecord | None:
        try:
            return JobRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            log.warning("ignoring unreadable job record %s: %s", path.name, exc)
            return None


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
