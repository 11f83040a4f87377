"""Local Rays this data dir's commands started, and the cleanup of what a killed one leaves.

A driver (``parse``, ``batch``, the ``up`` daemon) that starts a local Ray records it in
``<data dir>/runtime/rays/<pid>.json`` (its pid, that pid's start time, Ray's temp dir) and
removes the record when it shuts Ray down. A driver killed with SIGKILL cannot: its raylet and
GCS die with it (Ray ties them to their parent), but Ray's agents (``ray::DashboardAgent``,
``ray::RuntimeEnvAgent``) and idle workers linger for minutes, and the temp dir stays. The next
command sweeps records whose driver is gone.

Ray's processes are found by the session they belong to, not by their command line (Ray
overwrites it: ``ray::DashboardAgent`` names no directory): every one of them keeps its log
files open in the session dir under the driver's temp dir, so a process with a descriptor,
working directory or argument under that temp dir is that Ray's, and no other process is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
from pathlib import Path

from pydantic import Field

from pipeline.schema import WireModel

log = logging.getLogger(__name__)
PROC = Path("/proc")


class RaySession(WireModel):
    """One local Ray a driver started: ``<data dir>/runtime/rays/<pid>.json``."""

    pid: int = Field(description="the driver that started it")
    pid_started: int = Field(description="the driver's start time (clock ticks after boot): pid reuse shows")
    temp_dir: str = Field(description="Ray's temp dir: sessions, logs, sockets")


def sessions_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "runtime" / "rays"


def _started(pid: int) -> int | None:
    """A process's start time in clock ticks after boot (field 22 of its stat), None when it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def register(data_dir: Path, temp_dir: str) -> None:
    """Record that this process started a local Ray in ``temp_dir`` (best effort: never fails a run)."""
    pid = os.getpid()
    record = RaySession(pid=pid, pid_started=_started(pid) or 0, temp_dir=temp_dir)
    try:
        folder = sessions_dir(data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pid}.json").write_text(record.model_dump_json())
    except OSError as exc:
        log.info("cannot record the local Ray in %s (%s); a crash would leave it to Ray", data_dir, exc)


def unregister(data_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (sessions_dir(data_dir) / f"{os.getpid()}.json").unlink(missing_ok=True)


def sweep(data_dir: Path) -> list[RaySession]:
    """Stop the processes and remove the temp dirs of recorded Rays whose driver is gone."""
    folder = sessions_dir(data_dir)
    swept: list[RaySession] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = RaySession.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue
        if _started(record.pid) == record.pid_started:  # its driver still runs it
            continue
        stopped = stop_session(record.temp_dir)
        log.warning(
            "cleaned up after a driver that died (pid %d): %d Ray processes, %s",
            *(record.pid, stopped, record.temp_dir),
        )
        path.unlink(missing_ok=True)
        swept.append(record)
    return swept


def session_processes(temp_dir: str) -> list[int]:
    """The processes of the Ray whose temp dir is ``temp_dir``: any file, cwd or argument under it."""
    roots = {temp_dir.rstrip("/") + "/", os.path.realpath(temp_dir).rstrip("/") + "/"}
    found = []
    for entry in PROC.iterdir() if PROC.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if any(root in path for path in _paths_of(entry) for root in roots):  # --log-dir=<root>... too
            found.append(int(entry.name))
    return found


def _paths_of(process: Path) -> list[str]:
    """The paths a process has open, its cwd and its arguments (what is readable of them)."""
    paths: list[str] = []
    with contextlib.suppress(OSError):
        paths.append(os.readlink(process / "cwd") + "/")
    with contextlib.suppress(OSError):
        paths += (process / "cmdline").read_bytes().decode(errors="replace").split("\0")
    with contextlib.suppress(OSError):
        for descriptor in os.listdir(process / "fd"):
            with contextlib.suppress(OSError):
                paths.append(os.readlink(process / "fd" / descriptor))
    return paths


def stop_session(temp_dir: str) -> int:
    """SIGKILL every process of the Ray in ``temp_dir``, then remove the dir; how many were stopped."""
    if not temp_dir:
        return 0
    pids = session_processes(temp_dir)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(temp_dir, ignore_errors=True)
    return len(pids)
