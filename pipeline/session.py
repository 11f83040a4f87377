"""The Ray session of one command: the environment, a local start, an attach, the shutdown.

A Ray of this machine alone is started the cheap way (no dashboard, loopback, a temp dir of
its own, recorded in the data dir so that what a killed driver leaves is swept up by the next
one: ``pipeline.ray_sessions``). ``ray_runtime`` attaches to a cluster (``RAY_ADDRESS``) or to
the local Ray that ``karaoke-pipeline up`` keeps, and shuts down only a Ray it started itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Protocol

from pipeline import ray_sessions
from pipeline.settings import get_settings

log = logging.getLogger(__name__)


def local_ray_environment() -> None:
    """What a Ray of this machine alone needs in the environment before Ray is imported.

    Ray finds its node's "remotely reachable" IP by opening a socket towards 8.8.8.8, and
    warns (from C++, before any log level applies) when the machine is offline. A one-node
    Ray on loopback has nothing to find: its node IP is 127.0.0.1 (Ray's single-node mode,
    as on macOS). Set before ``import ray``: Ray reads it once.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Serve kills a proxy whose ready or health check takes over 5 or 10 s three times in a row:
    # beside two busy loops on 2 cores it did so at every start, and Serve never came up
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "30")
    os.environ.setdefault("RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S", "30")


def verbose() -> bool:
    """``--verbose`` (the CLI logs at INFO): Ray's own messages and the workers' logs are shown."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def start_local_ray(temp_prefix: str, namespace: str | None = None) -> str:
    """Start a local Ray the cheap way (no dashboard, loopback, a temp dir of its own); its temp dir."""
    local_ray_environment()
    import ray

    temp_dir = tempfile.mkdtemp(prefix=temp_prefix)
    loud = verbose()
    # Ray says it enabled token authentication on every start; nothing to act on (--verbose shows it)
    token_notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
    token_notice.setLevel(logging.NOTSET if loud else logging.ERROR)
    ray.init(
        address="local",
        include_dashboard=False,
        log_to_driver=loud,
        logging_level=logging.INFO if loud else logging.WARNING,
        namespace=namespace,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
    )
    ray_sessions.register(get_settings().data_dir, temp_dir)  # a SIGKILL leaves it for the next sweep
    return temp_dir


AUTOSCALER_MONITOR = os.path.join("autoscaler", "_private", "monitor.py")


class LocalRuntime(Protocol):
    """The local Ray that ``karaoke-pipeline up`` keeps (``pipeline.runtime.RuntimeState``)."""

    address: str
    token_path: str


def use_token(token_path: str) -> None:
    """Present a runtime's token to the Ray this process attaches to (before Ray is imported)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = token_path


@contextlib.contextmanager
def ray_runtime(address: str | None = None, runtime: LocalRuntime | None = None) -> Iterator[bool]:
    """Yield True with Ray connected (started locally when no address), else False.

    ``runtime``: the local Ray that ``karaoke-pipeline up`` keeps, attached with its token.
    Shuts down only a Ray this function started itself.
    """
    if runtime is not None and not address:
        use_token(runtime.token_path)  # before Ray is imported: it reads the token settings once
        address = runtime.address
    if not address:
        local_ray_environment()
        ray_sessions.sweep(get_settings().data_dir)  # what a killed driver left: agents, temp dirs
    import ray

    if ray.is_initialized():
        yield True
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    temp_dir: str | None = None
    try:
        if address:
            level = logging.INFO if verbose() else logging.WARNING
            ray.init(address=address, log_to_driver=verbose(), logging_level=level)
        else:
            temp_dir = start_local_ray("karaoke-ray-")
    except Exception as exc:  # Ray refuses to start for many reasons; we degrade, not crash
        log.warning("Ray could not start (%s); processing in this process, one image at a time", exc)
        yield False
        return
    try:
        yield True
    finally:
        if temp_dir is not None:
            _stop_autoscaler_monitor()
        ray.shutdown()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)  # sessions, logs, sockets of this run
            ray_sessions.unregister(get_settings().data_dir)


def _stop_autoscaler_monitor() -> None:
    """Kill the autoscaler monitor of the one-node Ray this process started, before shutdown.

    Nothing is autoscaled on one node. Stopped by ray.shutdown, the monitor first tries to
    report its own death to the GCS that was stopped just before it, and shutdown waits 1 s
    for it: 1.0 of the 1.4 s that shutdown took here. It holds no state of ours.
    """
    import psutil

    for child in psutil.Process().children():
        try:
            if any(part.endswith(AUTOSCALER_MONITOR) for part in child.cmdline()):
                child.kill()
                child.wait(timeout=2)
        except (psutil.Error, OSError):  # gone already, or not ours to see: shutdown copes
            continue
