"""A local Ray and a warm fleet kept between commands: ``up``, ``down``, ``status``.

``karaoke-pipeline up`` spawns a small daemon process that starts a local Ray
head (token authentication on, with a token file of its own), starts a fleet of
named, detached worker actors for one plan and writes ``runtime/state.json``
under the data dir. Later ``parse``, ``batch``, ``serve`` and ``eval`` on this
machine find the state, attach to that Ray (presenting the token) and lease
the warm workers when their plan is the same (the actors' names carry a digest
of the plan), so no command pays for Ray's start or a worker's imports.
``down`` stops the daemon, which shuts its Ray down. A runtime whose daemon or
Ray is gone is noticed at once (a dead pid, a closed port) and its state is
removed: commands then start a Ray of their own rather than wait on it.

One runtime per data dir: the daemon holds ``runtime/daemon.lock`` (``flock``,
released by the kernel however it dies) for its whole life and refuses to start
when another holds it, and ``up`` holds ``runtime/up.lock`` while it starts one, so a
second ``up`` waits, then says one runs. ``status`` and ``down`` find the daemon by
its lock too, before it has written ``state.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import Field

from pipeline import ray_sessions
from pipeline.errors import ConfigError
from pipeline.plan import JobPlan, plan_job
from pipeline.pool import start_fleet
from pipeline.schema import WireModel
from pipeline.session import start_local_ray, use_token
from pipeline.settings import get_settings

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
DAEMON_LOCK = "daemon.lock"
UP_LOCK = "up.lock"
START_TIMEOUT_S = 180.0
EXIT_ANOTHER_DAEMON = 3


class RuntimeState(WireModel):
    """What ``up`` started, as written to ``<data dir>/runtime/state.json``."""

    pid: int = Field(description="the daemon that owns the Ray head")
    address: str = Field(description="the GCS address to attach to")
    token_path: str = Field(description="the token file the Ray head checks")
    temp_dir: str
    backend: str
    workers: int
    fleet: str = Field(description="the name prefix of the warm actors: a digest of their plan")
    started_at: dt.datetime


def runtime_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "runtime"


def warm_fleet_for(plan: JobPlan, state: RuntimeState | None) -> str | None:
    """The warm fleet of ``karaoke-pipeline up`` that serves this plan, if one does."""
    if state is None or state.fleet != plan.warm_fleet_name():
        return None
    return state.fleet


def read_state(data_dir: Path) -> RuntimeState | None:
    """The running runtime, or None; a stale state (dead daemon, closed port) is removed."""
    path = runtime_dir(data_dir) / STATE_FILE
    try:
        state = RuntimeState.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None
    if _alive(state):
        return state
    log.warning("the runtime started by `karaoke-pipeline up` is gone (pid %d); not using it", state.pid)
    path.unlink(missing_ok=True)
    _stop_orphans(state)
    return None


def _stop_orphans(state: RuntimeState) -> None:
    """Stop what is left of a dead runtime's Ray (found by its session dir: ray_sessions)."""
    ray_sessions.stop_session(state.temp_dir)


def _alive(state: RuntimeState) -> bool:
    try:
        os.kill(state.pid, 0)
    except OSError:
        return False
    host, _, port = state.address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def daemon_pid(data_dir: Path) -> int | None:
    """The pid of the daemon holding this data dir's lock (0 while it writes it), or None."""
    try:
        descriptor = os.open(runtime_dir(data_dir) / DAEMON_LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted only when no daemon holds it
        except BlockingIOError:
            text = os.read(descriptor, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        return None
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _exclusive(path: Path, timeout_s: float, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; ``on_wait`` once if another holds it (then wait)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    on_wait()
                    waited = True
                if time.monotonic() >= deadline:
                    raise ConfigError(f"another `up` held {path} for over {timeout_s:g} s") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(descriptor)


def start_runtime(
    data_dir: Path, backend: str, workers: int, on_wait: Callable[[str], None] | None = None
) -> RuntimeState:
    """Spawn the daemon and wait until its Ray and warm fleet are up; one ``up`` at a time.

    ``on_wait`` hears, once, that another ``up`` is starting a runtime here (this one waits).

    Raises:
        ConfigError: a runtime already runs or starts, or the daemon could not start (its log says why).
    """
    folder = runtime_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    waiting = f"another `up` is starting a runtime in {data_dir}; waiting for it"
    with _exclusive(folder / UP_LOCK, START_TIMEOUT_S, lambda: (on_wait or log.warning)(waiting)):
        if (existing := read_state(data_dir)) is not None:
            raise ConfigError(
                f"a runtime already runs (pid {existing.pid}, {existing.backend}); `down` stops it"
            )
        if (pid := daemon_pid(data_dir)) is not None:
            raise ConfigError(f"a runtime is starting (daemon pid {pid}); `status` shows it, `down` stops it")
        return _spawn_daemon(data_dir, backend, workers)


def _spawn_daemon(data_dir: Path, backend: str, workers: int) -> RuntimeState:
    folder = runtime_dir(data_dir)
    log_path = folder / "daemon.log"
    command = [sys.executable, "-m", "pipeline.runtime", "--data-dir", str(data_dir.resolve())]
    command += ["--backend", backend, "--workers", str(workers)]
    with open(log_path, "ab") as log_file:
        daemon = subprocess.Popen(  # its own session: the runtime outlives this command and its terminal
            command, stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise ConfigError(f"the runtime did not start: {tail[0]} (see {log_path})")
        state = read_state(data_dir)
        if state is not None and state.pid == daemon.pid:
            return state
        time.sleep(0.2)
    daemon.terminate()
    raise ConfigError(f"the runtime did not start within {START_TIMEOUT_S:g} s (see {log_path})")


def stop_runtime(data_dir: Path, timeout_s: float = 60.0) -> int | None:
    """Stop the daemon (it shuts its Ray down), also one still starting; its pid, or None when none ran."""
    state = read_state(data_dir)
    pid = state.pid if state is not None else daemon_pid(data_dir)
    if not pid:  # None: nothing runs; 0: a daemon that has not yet written its pid
        deadline = time.monotonic() + 5
        while pid == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            pid = daemon_pid(data_dir)
        if not pid:
            return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and daemon_pid(data_dir) == pid:
        time.sleep(0.2)
    if daemon_pid(data_dir) == pid:
        os.kill(pid, signal.SIGKILL)
    (runtime_dir(data_dir) / STATE_FILE).unlink(missing_ok=True)
    return pid


# --- the daemon -------------------------------------------------------------------------


def _hold_daemon_lock(folder: Path) -> int | None:
    """Take this data dir's daemon lock for the life of the process (its pid written in it), or None.

    The descriptor is not inherited (PEP 446): Ray's processes never hold the lock.
    """
    descriptor = os.open(folder / DAEMON_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    return descriptor


def _daemon(data_dir: Path, backend: str, workers: int) -> int:
    """Start Ray and the warm fleet, write the state, then wait for SIGTERM."""
    folder = runtime_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if _hold_daemon_lock(folder) is None:
        print(f"another runtime daemon holds {folder / DAEMON_LOCK} (pid {daemon_pid(data_dir)})", flush=True)
        return EXIT_ANOTHER_DAEMON
    stopping: list[int] = []  # from here on SIGTERM (`down`) stops it cleanly, also while it starts
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    token_path = folder / "token"
    token_path.write_text(secrets.token_hex(32))
    token_path.chmod(0o600)
    use_token(str(token_path))  # before Ray is imported: it reads the token settings once
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    settings = get_settings()
    plan = plan_job(backend, workers=workers, timeout_s=None, settings=settings)
    temp_dir = start_local_ray("karaoke-ray-up-", namespace="karaoke-pipeline")
    name = plan.warm_fleet_name()
    fleet = start_fleet(plan.backend, plan.worker, workers, plan.rate_limit, named=name)
    fleet.wait_ready(fleet.actors, plan.pool.startup_timeout_s)
    state = RuntimeState(
        pid=os.getpid(),
        address=ray.get_runtime_context().gcs_address,
        token_path=str(token_path),
        temp_dir=temp_dir,
        backend=backend,
        workers=workers,
        fleet=name,
        started_at=dt.datetime.now(dt.UTC),
    )
    if not stopping:  # a `down` while it started: no state to announce, straight to shutdown
        (folder / STATE_FILE).write_text(state.model_dump_json(indent=2))
        print(f"runtime up: Ray at {state.address}, {workers} warm {backend} workers", flush=True)
    while not stopping:
        time.sleep(0.5)
    with contextlib.suppress(Exception):
        ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)
    ray_sessions.unregister(get_settings().data_dir)  # the record start_local_ray wrote
    (folder / STATE_FILE).unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.runtime", description="the `up` daemon")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return _daemon(args.data_dir, args.backend, args.workers)


if __name__ == "__main__":
    sys.exit(main())
