"""Local intake reads only regular files, under a deadline: a FIFO named .png never hangs the driver."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from pipeline import local_files
from pipeline.errors import ImageRejected
from pipeline.images import find_images, read_path, read_uri
from pipeline.local_files import SkippedFiles, read_regular_file
from pipeline.parse import intake
from pipeline.schema import ImageResult
from pipeline.testing.scripted import make_scripted_png

T = TypeVar("T")
MAX_BYTES = 10 * 1024 * 1024
# How long a test lets a read run before calling it hung; the fix answers at once.
HANG_S = 20.0


def within(call: Callable[[], T], what: str) -> T:
    """``call()`` on a helper thread; fail (not hang the suite) when it has not returned in HANG_S."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert outcome, f"{what}: still blocked after {HANG_S:g} s"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO named like a screenshot; afterwards any reader still blocked on it is let go."""
    path = tmp_path / "shot.png"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # ENXIO: nobody is reading, nothing to release
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def rejected(call: Callable[[], object]) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        within(call, "reading")
    return caught.value


def test_a_fifo_is_not_a_file_and_is_never_opened(fifo: Path) -> None:
    error = rejected(lambda: read_path(fifo, 0, max_bytes=MAX_BYTES))
    assert error.code == "not_a_file"
    assert "FIFO" in error.message and str(fifo) in error.message


def test_a_fifo_named_by_uri_is_not_a_file_either(fifo: Path) -> None:
    assert rejected(lambda: read_uri(f"file://{fifo}", 0, max_bytes=MAX_BYTES)).code == "not_a_file"
    assert rejected(lambda: read_uri(str(fifo), 0, max_bytes=MAX_BYTES)).code == "not_a_file"


def test_a_socket_and_a_device_are_not_files(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock.png"))
        error = rejected(lambda: read_path(tmp_path / "sock.png", 0, max_bytes=MAX_BYTES))
        assert (error.code, "a socket" in error.message) == ("not_a_file", True)
    assert rejected(lambda: read_path("/dev/null", 0, max_bytes=MAX_BYTES)).code == "not_a_file"


def test_a_read_that_never_finishes_is_a_timeout_within_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalled = threading.Event()
    release = threading.Event()

    def stuck(source: str, max_bytes: int) -> bytes:  # a read parked in the kernel (a dead mount)
        stalled.set()
        release.wait()
        return b""

    monkeypatch.setattr(local_files, "_read_checked", stuck)
    try:
        error = rejected(lambda: read_regular_file(tmp_path / "a.png", max_bytes=MAX_BYTES, deadline_s=0.2))
    finally:
        release.set()
    assert stalled.is_set() and error.code == "timeout" and "0.2 s" in error.message


def test_intake_gives_a_fifo_its_own_result_and_reads_the_rest(tmp_path: Path, fifo: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(make_scripted_png())
    paths = find_images([tmp_path])
    assert paths == [good, fifo]
    items = within(lambda: intake(paths, max_bytes=MAX_BYTES), "intake of a folder holding a FIFO")
    assert not isinstance(items[0], ImageResult) and items[0].data == good.read_bytes()
    assert isinstance(items[1], ImageResult) and items[1].error is not None
    assert (items[1].error.code, items[1].source) == ("not_a_file", str(fifo))


def test_a_regular_file_reads_whole_and_a_growing_one_stops_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"x" * 3000)
    assert read_regular_file(path, max_bytes=3000) == b"x" * 3000
    with pytest.raises(ImageRejected) as caught:
        read_regular_file(path, max_bytes=2999)
    assert caught.value.code == "too_large" and "limit is 2.93 KiB" in caught.value.message


def test_skipped_files_are_counted_by_type(tmp_path: Path) -> None:
    for name in ("a.heic", "b.heic", "c.pdf", "d.png", "e.avif"):
        (tmp_path / name).write_bytes(b"x")
    skipped = SkippedFiles()
    assert find_images([tmp_path], skipped) == [tmp_path / "d.png"]
    assert skipped.describe() == "skipped 4: 2 .heic, 1 .pdf, 1 .avif"
    assert SkippedFiles().describe() == ""
