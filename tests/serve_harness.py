"""One Ray Serve for every Serve test module, started on a free loopback port.

Each ``tests/test_serve_*.py`` imports the session fixture ``served``; pytest
makes one fixture per importing module, so the harness counts its users and
starts Serve once and shuts it down (before Ray) when the last one finishes.
Applications are deployed on first use, under their own route prefixes:

- ``main`` at ``/``: scripted backend, 5 workers, admin token set, no rate limit;
- ``limited`` at ``/limited``: scripted, 1 worker, a tight rate limit, no admin token;
- ``ocr`` at ``/ocr``: the local OCR backend, 3 workers, for realistic tests;
- ``pair`` at ``/pair``: scripted, two replicas of 2 workers (jobs across replicas);
- ``bulk`` at ``/bulk``: scripted, 1 worker, room for 3 queued images, 32 MB bodies.

A test may also ``deploy`` an application of its own (a Gemini one on its fake server).
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pipeline.backends.base import LocalOptions, ScriptedOptions

T = TypeVar("T")
ADMIN_TOKEN = "test-admin-token-0123456789"
TEST_LIMITS: dict[str, Any] = {
    "max_body_bytes": 4 * 1024 * 1024,
    "max_image_bytes": 1024 * 1024,
    "max_images": 20,
    "replica_num_cpus": 0.1,
    "autoscale": False,  # these apps test a warm fleet of a known size; tests/test_fleet_scaler.py scales
}


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Poll ``condition`` until it returns something other than None/False; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(every_s)


def ready_body(url: str, timeout_s: float = 120) -> dict[str, Any]:
    """``/readyz`` once it says ready: a fleet comes up worker by worker, however loaded the machine."""
    import httpx

    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = httpx.get(f"{url}/readyz", timeout=10).json()
        return body if body["ready"] else None

    return wait_for(ready, timeout_s, f"{url}/readyz ready")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """The running Serve: its base URL, data dir and deployed applications."""

    port: int
    data_dir: Path
    deployed: set[str] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, app: str = "main") -> str:
        """The base URL of an application, deploying it first if needed."""
        if app not in self.deployed:
            self._deploy(app)
        return self.base + PREFIXES[app].rstrip("/")

    def restart(self) -> None:
        """Shut Serve down and start it again on the same port and data dir."""
        from ray import serve

        apps = set(self.deployed)
        serve.shutdown()
        self.deployed.clear()
        _start(self.port)
        for app in sorted(apps):
            self._deploy(app)

    def deploy(self, app: str, **options: Any) -> str:
        """Deploy an application of the test's own at ``/<app>``; returns its base URL."""
        PREFIXES[app] = f"/{app}"
        APP_OPTIONS[app] = options
        self.deployed.discard(app)
        return self.url(app)

    def remove(self, app: str) -> None:
        """Delete a test's own application: its replicas and fleets free the CPUs they hold."""
        from ray import serve

        serve.delete(app)
        self.deployed.discard(app)

    def _deploy(self, app: str) -> None:
        from ray import serve

        from serve.app import build_app
        from serve.options import ServeOptions

        options = ServeOptions(data_dir=self.data_dir / app, **{**TEST_LIMITS, **APP_OPTIONS[app]})
        serve.run(build_app(options), name=app, route_prefix=PREFIXES[app], blocking=False)
        self.deployed.add(app)


PREFIXES = {"main": "/", "limited": "/limited", "ocr": "/ocr", "pair": "/pair", "bulk": "/bulk"}
APP_OPTIONS: dict[str, dict[str, Any]] = {
    "main": {
        "backend": ScriptedOptions(),
        "fleet_size": 5,
        "worker_num_cpus": 0.1,
        "admin_token": ADMIN_TOKEN,
        "rate_limit_per_minute": 0,
        "image_timeout_s": 10,
    },
    "limited": {
        "backend": ScriptedOptions(),
        "fleet_size": 1,
        "worker_num_cpus": 0.1,
        "rate_limit_per_minute": 6,
        "rate_limit_burst": 2,
    },
    "pair": {
        "backend": ScriptedOptions(),
        "fleet_size": 2,
        "worker_num_cpus": 0.1,
        "replicas": 2,
        "admin_token": ADMIN_TOKEN,
        "rate_limit_per_minute": 0,
    },
    "bulk": {
        "backend": ScriptedOptions(),
        "fleet_size": 1,
        "worker_num_cpus": 0.1,
        "max_queued_images": 3,
        "max_body_bytes": 32 * 1024 * 1024,
        "max_image_bytes": 24 * 1024 * 1024,
        "rate_limit_per_minute": 0,
    },
    "ocr": {
        "backend": LocalOptions(ocr_threads=1),
        "fleet_size": 3,
        "worker_num_cpus": 0.4,
        "admin_token": ADMIN_TOKEN,
        "rate_limit_per_minute": 0,
    },
}


def _start(port: int) -> None:
    from serve.cli import start_serve

    failure = start_serve("127.0.0.1", port)  # retried as `serve` does: a busy machine kills proxies
    if failure is not None:
        raise RuntimeError(failure)


_state: dict[str, Any] = {"users": 0, "served": None}


@pytest.fixture(scope="session")
def served(ray_session: None) -> Iterator[Served]:
    """The shared Serve (started by the first module that asks for it)."""
    from ray import serve

    if _state["served"] is None:
        port = free_port()
        _start(port)
        _state["served"] = Served(port, Path(tempfile.mkdtemp(prefix="karaoke-serve-test-")))
    _state["users"] += 1
    try:
        yield _state["served"]
    finally:
        _state["users"] -= 1
        if _state["users"] == 0:
            serve.shutdown()
            _state["served"] = None


@pytest.fixture
def own_apps(served: Served) -> Iterator[Served]:
    """The shared Serve; the apps a test deploys here are deleted after it: the session's Ray
    has 4 CPUs, and the shared apps' fleets with these replicas' would not fit."""
    before = set(served.deployed)
    yield served
    for app in set(served.deployed) - before:
        served.remove(app)
