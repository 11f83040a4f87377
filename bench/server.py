"""The fake Gemini server in a process of its own, driven over a pipe.

A real API is on another machine; running the fake in the benchmark's own
process would make the asyncio and thread contenders share a GIL with it.
Before every measured run the server is reconfigured (which restarts its
seeded latency draws) and its request log cleared, so every contender meets
the same sequence of latencies.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, RequestRecord


def _serve(conn: Connection, options: FakeGeminiOptions) -> None:
    """Child process: run the server, answer commands until told to stop."""
    with FakeGeminiServer(options) as server:
        conn.send(server.base_url)
        while True:
            command, argument = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            conn.send(_handle(server, command, argument))


def _handle(server: FakeGeminiServer, command: str, argument: Any) -> Any:
    if command == "configure":
        server.configure(argument)
        server.clear_requests()
        return None
    if command == "requests":
        return server.requests
    raise ValueError(f"unknown command {command!r}")


class ServerProcess:
    """``with ServerProcess(options) as server``: ``base_url``, ``reset(options)``, ``requests()``."""

    def __init__(self, options: FakeGeminiOptions) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that runs Ray
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, options), name="fake-gemini", daemon=True)
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the fake Gemini server process did not start within 60 s")
        self.base_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def _call(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def reset(self, options: FakeGeminiOptions) -> None:
        """New options, fresh seeded draws and RPM window, an empty request log."""
        self._call("configure", options)

    def requests(self) -> list[RequestRecord]:
        """Every request since the last reset, oldest first."""
        records: list[RequestRecord] = self._call("requests")
        return records

    def stop(self) -> None:
        if self._process.is_alive():
            self._call("stop")
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
