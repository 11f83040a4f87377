"""Local files as intake reads them: regular files only, each read under a deadline.

A FIFO named ``shot.png`` blocks ``open()`` until some writer comes, a character
device never ends, a file on a dead network mount stalls in ``read()``: none of
them may hold up the driver or the other images. So a path is ``stat``-ed first
and only a regular file is opened (non-blocking, and checked again on the open
descriptor in case it was swapped meanwhile); the whole read runs on one of a
few reused daemon threads the caller waits for with a deadline, so even a read
the kernel never finishes costs one parked thread, never the batch. Also here: what a folder scan
skipped, counted by type, for the CLI's summary.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ImageRejected

READ_DEADLINE_S = 30.0
_CHUNK = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (``a FIFO (named pipe)``, ``a socket``, ...)."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def size_words(size: int) -> str:
    """A byte count as people read it (``10 MiB``, ``512 KiB``, ``80 bytes``)."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def read_regular_file(path: str | Path, *, max_bytes: int, deadline_s: float = READ_DEADLINE_S) -> bytes:
    """The bytes of one regular file of at most ``max_bytes``, or ``ImageRejected``.

    Codes: ``not_a_file`` (a FIFO, socket, device or directory: never opened for
    reading), ``too_large``, ``timeout`` (the read did not finish within
    ``deadline_s``; its thread is left parked), ``not_an_image`` (cannot read).
    """
    source = str(path)
    reading = _READERS.submit(lambda: _read_checked(source, max_bytes))
    try:
        return reading.result(timeout=deadline_s)
    except TimeoutError:
        raise ImageRejected(
            "timeout", f"{source}: reading took over {deadline_s:g} s (a stalled disk or mount?)"
        ) from None


class _Readers:
    """Daemon threads that read files, reused; one stuck in the kernel is left, a new one takes over.

    A new thread per read cost about 0.14 ms a file; a ``ThreadPoolExecutor`` would keep a
    process with a stuck read from exiting (it joins its threads at exit).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], bytes], Future[bytes]]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, read: Callable[[], bytes]) -> Future[bytes]:
        result: Future[bytes] = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._serve, name="karaoke-file-reader", daemon=True).start()
        self._jobs.put((read, result))
        return result

    def _serve(self) -> None:
        while True:
            read, result = self._jobs.get()
            try:
                result.set_result(read())
            except BaseException as exc:  # handed to the waiting caller, raised there
                result.set_exception(exc)
            with self._lock:
                self._idle += 1


_READERS = _Readers()


def _read_checked(source: str, max_bytes: int) -> bytes:
    try:
        _check_regular(source, os.stat(source), max_bytes)
        descriptor = os.open(source, _OPEN_FLAGS)  # O_NONBLOCK: a FIFO swapped in now cannot block open
    except OSError as exc:
        raise ImageRejected("not_an_image", f"{source}: cannot read: {exc.strerror}") from exc
    try:
        _check_regular(source, os.fstat(descriptor), max_bytes)
        return _read_all(source, descriptor, max_bytes)
    finally:
        os.close(descriptor)


def _check_regular(source: str, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = file_kind(info.st_mode)
        raise ImageRejected("not_a_file", f"{source}: {kind}, not a regular file; only files are read")
    if info.st_size > max_bytes:  # refuse before reading a huge file into memory
        raise ImageRejected(
            "too_large", f"{source}: {size_words(info.st_size)}, limit is {size_words(max_bytes)}"
        )


def _read_all(source: str, descriptor: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:  # a file that grows while read is cut at the limit, then refused
        try:
            chunk = os.read(descriptor, min(_CHUNK, max_bytes + 1 - total))
        except OSError as exc:
            raise ImageRejected("not_an_image", f"{source}: cannot read: {exc.strerror}") from exc
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


@dataclass
class SkippedFiles:
    """Files a folder scan passed over (not an image type), counted by suffix."""

    by_type: Counter[str] = field(default_factory=Counter)

    def add(self, name: str) -> None:
        self.by_type[os.path.splitext(name)[1].lower() or "no suffix"] += 1

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    def describe(self) -> str:
        """``skipped 3: 2 .heic, 1 .pdf`` (most common first), or "" when nothing was skipped."""
        if not self.total:
            return ""
        parts = ", ".join(f"{count} {kind}" for kind, count in self.by_type.most_common())
        return f"skipped {self.total}: {parts}"
