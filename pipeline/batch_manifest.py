"""The Batch API path's record of its jobs (``OUTPUT/batch-manifest.json``).

The manifest is what makes ``batch --via gemini-batch`` resumable: each job is
written with its display name and entries (index, source, sha256) before its
create is sent, and again with its ``batches/ID`` after; a job is ``collected``
once every entry's result (or its absence) is in the shards. It also holds the
round's start and ``--deadline``, so a later run counts the deadline from the
first one. Written whole, by a rename on local disks.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from pipeline.job_files import write_json_atomically
from pipeline.schema import WireModel

MANIFEST = "batch-manifest.json"


class ManifestEntry(WireModel):
    index: int
    source: str
    sha256: str


class ManifestJob(WireModel):
    """One Batch API job as recorded: written before its create is sent, again after."""

    display_name: str
    entries: list[ManifestEntry]
    inline: bool
    name: str | None = Field(default=None, description="batches/ID once the create's reply was read")
    state: str = Field(default="creating", description="creating, or the job's last state seen")
    collected: bool = Field(default=False, description="its answers (or their absence) are in the shards")
    created_at: dt.datetime


class BatchManifest(WireModel):
    job_id: str = Field(
        default_factory=lambda: f"batch-api-{uuid.uuid4().hex[:16]}",
        description="the run's id in the progress actor, the same for every run over this OUTPUT",
    )
    started_at: dt.datetime | None = Field(
        default=None,
        description="this round's start (the first run, or --retry-failed): deadlines count from it",
    )
    deadline_s: float | None = Field(default=None, description="--deadline, in seconds from started_at")
    jobs: list[ManifestJob] = Field(default_factory=list)

    @property
    def deadline_at(self) -> dt.datetime | None:
        if self.started_at is None or self.deadline_s is None:
            return None
        return self.started_at + dt.timedelta(seconds=self.deadline_s)

    @classmethod
    def read(cls, output: str) -> BatchManifest:
        import fsspec

        fs, root = fsspec.core.url_to_fs(output)
        path = f"{root}/{MANIFEST}"
        return cls.model_validate_json(fs.cat_file(path)) if fs.exists(path) else cls()

    def write(self, output: str) -> None:
        import fsspec

        fs, root = fsspec.core.url_to_fs(output)
        text = self.to_wire_json(indent=1)
        if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
            from pathlib import Path

            write_json_atomically(Path(root) / MANIFEST, text)
        else:
            fs.pipe_file(f"{root}/{MANIFEST}", text.encode())
