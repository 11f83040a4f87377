"""``karaoke-pipeline serve --haproxy``: connections that never send a whole request are closed.

Issue 24 item 9. Uvicorn (Serve's default proxy server) has no header read timeout: a
connection that sends nothing, or half a request line, stays open and unanswered (40 s and
more, measured). Serve 2.60's HAProxy proxy closes it after ``timeout client`` of silence.
The test shortens that timeout to 5 s through the variable the flag only defaults.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from serve_harness import free_port
from test_serve_api import data_url
from test_serve_slow_senders import answer_and_close

from pipeline.testing.child import Child
from pipeline.testing.scripted import make_scripted_png
from serve.cli import HAPROXY_CLIENT_TIMEOUT_S
from serve.options import BodyTimeouts

if TYPE_CHECKING:
    from pipeline.testing.fake_gemini import FakeGeminiServer

pytestmark = [pytest.mark.serve, pytest.mark.slow]
CLIENT_TIMEOUT_S = 5
ANALYZE = "/api/parser/analyze-screenshots"


def test_the_default_client_timeout_leaves_a_stalled_body_to_the_apps_json_408() -> None:
    assert BodyTimeouts().idle_s < HAPROXY_CLIENT_TIMEOUT_S


def test_haproxy_closes_silent_and_half_sent_requests_and_serves_the_rest(
    module_server: FakeGeminiServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KARAOKE_", "RAY_"))}
    env.update(
        KARAOKE_BACKEND="gemini",
        GEMINI_API_KEY="test-key",
        KARAOKE_GEMINI_BASE_URL=module_server.base_url,
        KARAOKE_DATA_DIR=str(tmp_path),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S=str(CLIENT_TIMEOUT_S),
    )
    command = [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port), "--haproxy"]
    served = Child(command, env)
    url = f"http://127.0.0.1:{port}"
    try:
        served.wait_for_line("karaoke-pipeline API on", 300)
        silent = socket.create_connection(("127.0.0.1", port), timeout=10)
        half = socket.create_connection(("127.0.0.1", port), timeout=10)
        half.sendall(f"POST {ANALYZE} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())  # no end of headers
        started = time.monotonic()
        answer = httpx.post(
            f"{url}{ANALYZE}", json={"screenshots": [data_url(make_scripted_png())]}, timeout=60
        )
        assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "ok", answer.text
        deadline = started + CLIENT_TIMEOUT_S + 30  # the timeout, and room for a busy machine
        closed = [answer_and_close(client, deadline) for client in (silent, half)]
        waited = time.monotonic() - started
        for received in closed:
            assert received.startswith(b"HTTP/1.1 408"), received[:100]
        print(f"a silent and a half-sent request closed with 408 within {waited:.1f} s")
    finally:
        served.stop()
