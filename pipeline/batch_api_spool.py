"""One Batch API job's requests while the driver builds it: held while they fit inline, then a JSONL file.

A job under the inline limit (19 MB) is sent inline, so its requests stay in
memory until its create. Once a job outgrows that limit, the requests held so
far and every later one are written as JSONL lines (``GeminiBatchClient.jsonl_line``)
to a temporary file as they come, and the file is uploaded through the Files
API by path, read in chunks: the driver never holds a big job (up to 2 GB at
Google) in memory, twice over as it did when the JSONL was built as one string.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.backends.gemini.batch import BatchRequest, GeminiBatchClient, JobView


class JobSpool:
    """The requests of one job being built; ``create`` sends it (inline, or the file) and cleans up."""

    def __init__(self, client: GeminiBatchClient, inline_limit_bytes: float) -> None:
        self.client, self.inline_limit_bytes = client, inline_limit_bytes
        self.keys: list[str] = []
        self._keys: set[str] = set()
        self.bytes = 0  # on the wire, about
        self.held: list[BatchRequest] = []
        self.path: Path | None = None
        self._file: IO[str] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    @property
    def inline(self) -> bool:
        return self.path is None

    def add(self, request: BatchRequest) -> None:
        self.keys.append(request.key)
        self._keys.add(request.key)
        self.bytes += request.wire_bytes
        if self.path is None and self.bytes <= self.inline_limit_bytes:
            self.held.append(request)
            return
        if self._file is None:  # outgrew the inline limit: to a file, from now on
            descriptor, name = tempfile.mkstemp(prefix="karaoke-batch-", suffix=".jsonl")
            self.path, self._file = Path(name), os.fdopen(descriptor, "w", encoding="utf-8")
            for held in self.held:
                self._file.write(self.client.jsonl_line(held))
            self.held = []
        self._file.write(self.client.jsonl_line(request))

    def create(self, display_name: str) -> JobView:
        """The job's create (``GeminiBatchClient.create``); the file is removed after, whatever happens."""
        if self.path is None:
            return self.client.create(self.held, display_name, inline=True)
        assert self._file is not None
        self._file.close()
        try:
            return self.client.create(self.path, display_name, inline=False)
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the file, if any (again is harmless)."""
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> JobSpool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()
