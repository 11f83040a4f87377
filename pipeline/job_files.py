"""Job records and where they are kept: ``JobRecord``, ``RunDefaults`` and ``JobFiles``.

``JobFiles`` stores each record as ``<job id>.json`` (and the admin's run defaults as
``settings.json``) under a local directory or an fsspec URI such as ``s3://bucket/jobs``,
so every node can read what any node wrote. ``pipeline.job_store`` keeps the records
in use; this module only shapes and stores them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipeline.schema import BatchProgress, JobStatus, ParseResponse, WireModel

log = logging.getLogger(__name__)

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TERMINAL: frozenset[JobStatus] = frozenset({"done", "failed", "cancelled"})
DEFAULTS_NAME = "settings"  # settings.json beside the records: never a job id


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
