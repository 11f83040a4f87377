"""The Batch API path's record of its jobs (``OUTPUT/batch-manifest.json``) and its progress line.

The manifest is what makes ``batch --via gemini-batch`` resumable: each job is
written with its display name and entries (index, source, sha256) before its
create is sent, and again with its ``batches/ID`` after; a job is ``collected``
once every entry's result (or its absence) is in the shards. Written whole, by a
rename on local disks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
    jobs: list[ManifestJob] = Field(default_factory=list)

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


@dataclass
class BatchApiProgress:
    """Each job's state and the images answered so far, for the progress line."""

    jobs: dict[str, str] = field(default_factory=dict)  # display name -> state
    images: int = 0
    answered: int = 0
    failed: int = 0
    online: int = 0

    def line(self) -> str:
        states: dict[str, int] = {}
        for state in self.jobs.values():
            states[state] = states.get(state, 0) + 1
        summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
        return (
            f"{len(self.jobs)} Batch API job{'' if len(self.jobs) == 1 else 's'} ({summary}); "
            f"{self.answered} answered, "
            f"{self.failed} failed, {self.online} left for the online path"
        )
