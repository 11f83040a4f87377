"""Shared fixtures: one local Ray for the whole session, started the cheap way."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pipeline.testing.fake_gemini import FakeGeminiServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the session's Ray must carry the ``ray`` marker, or ``make test-fast`` would run it."""
    unmarked = [
        item.nodeid
        for item in items
        if "ray_session" in getattr(item, "fixturenames", ()) and item.get_closest_marker("ray") is None
    ]
    if unmarked:
        raise pytest.UsageError("these tests start Ray but are not marked ray: " + ", ".join(unmarked))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray (no dashboard, loopback only, its own temp dir), shut down at the end."""
    from pipeline.session import local_ray_environment
    from serve.cli import serving_ray_environment

    local_ray_environment()  # before Ray is imported: no probe of the internet for a node IP
    serving_ray_environment()  # the shared Serve's proxy and replicas run as `serve` runs them
    import ray

    temp_dir = tempfile.mkdtemp(prefix="karaoke-ray-test-")
    ray.init(
        address="local",
        include_dashboard=False,
        num_cpus=4,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeGeminiServer]:
    """One fake Gemini server per test module (echo replies, no OCR)."""
    from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer

    with FakeGeminiServer(FakeGeminiOptions(extract="echo")) as server:
        yield server


@pytest.fixture
def server(module_server: FakeGeminiServer) -> FakeGeminiServer:
    """The module's fake Gemini server, back in plain echo mode with an empty request log."""
    from pipeline.testing.fake_gemini import FakeGeminiOptions

    module_server.configure(FakeGeminiOptions(extract="echo"))
    module_server.clear_requests()
    return module_server


@pytest.fixture
def slow_gemini(module_server: FakeGeminiServer) -> Iterator[FakeGeminiServer]:
    """The module's fake Gemini answering after 300 ms (the benchmarks' latency), reset after."""
    from pipeline.testing.fake_gemini import FakeGeminiOptions

    module_server.configure(FakeGeminiOptions(extract="echo", latency_median_ms=300))
    module_server.clear_requests()
    yield module_server
    module_server.configure(FakeGeminiOptions(extract="echo"))
