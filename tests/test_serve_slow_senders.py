"""Slow senders against the real Serve proxy: a body that stops arriving is answered 408 and closed.

Issue 24: 30 connections that declared 1 MB and sent 20 bytes were neither answered nor
closed within 90 s. The replica's body reader now gives up after ``BodyTimeouts.idle_s``
(15 s by default, the value this test runs with) and answers ``Connection: close``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from serve_harness import Served, served  # noqa: F401 - the fixture is used by name

from serve.options import BodyTimeouts

pytestmark = [pytest.mark.ray, pytest.mark.serve, pytest.mark.slow]
SENDERS = 30
PATH = "/api/parser/analyze-screenshots"


@pytest.fixture
def slow_senders(served: Served) -> Iterator[list[socket.socket]]:  # noqa: F811
    served.url("main")  # deployed and ready before the clock starts
    host, port = "127.0.0.1", served.port
    sockets = []
    try:
        for _ in range(SENDERS):
            client = socket.create_connection((host, port), timeout=10)
            head = (
                f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {1024 * 1024}\r\n\r\n"
            )
            client.sendall(head.encode() + b'{"screenshots": ["iVB')  # 20 bytes of the promised 1 MB
            sockets.append(client)
        yield sockets
    finally:
        for client in sockets:
            client.close()


def answer_and_close(client: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection (fails at ``deadline``)."""
    received = b""
    while True:
        client.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = client.recv(65536)
        except TimeoutError:
            raise AssertionError(f"neither answered nor closed; got {received[:200]!r}") from None
        if not chunk:
            return received
        received += chunk


def test_senders_that_stop_mid_body_get_a_json_408_and_a_closed_connection(
    served: Served,  # noqa: F811
    slow_senders: list[socket.socket],
) -> None:
    started = time.monotonic()
    assert httpx.get(f"{served.base}/healthz", timeout=10).status_code == 200, "others are still served"
    deadline = started + BodyTimeouts().idle_s + 45  # the idle limit, and room for a busy machine
    answers = [answer_and_close(client, deadline) for client in slow_senders]
    waited = time.monotonic() - started
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), head[:100]
        assert b"connection: close" in head.lower()
        assert json.loads(body)["statusCode"] == 408
    print(f"{SENDERS} stalled senders answered 408 and closed within {waited:.1f} s")
