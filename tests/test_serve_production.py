"""Production behaviour over real HTTP: replicas sharing jobs, backpressure, bombs, disconnects."""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import statistics
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import SecretStr
from serve_harness import Served, own_apps, ready_body, served, wait_for  # noqa: F401 - fixtures used by name
from test_serve_api import data_url, shots

from bench.health_load import upload_forever
from pipeline.testing.scripted import make_scripted_png

if TYPE_CHECKING:
    from pipeline.testing.fake_gemini import FakeGeminiServer

pytestmark = [pytest.mark.ray, pytest.mark.serve]
PARSER = "/api/parser"
JOBS = f"{PARSER}/jobs"
REPLICA = "x-karaoke-replica"


def both_replicas_ready(url: str, timeout_s: float = 120) -> set[str]:
    """Poll ``/readyz`` until two different replicas have each said ready."""
    seen: set[str] = set()

    def two_ready() -> set[str] | None:
        response = httpx.get(f"{url}/readyz", timeout=10)
        if response.json()["ready"]:
            seen.add(response.headers[REPLICA])
        return seen if len(seen) >= 2 else None

    return wait_for(two_ready, timeout_s, "both replicas ready")


def start_job(url: str, screenshots: list[str], **fields: Any) -> httpx.Response:
    response = httpx.post(f"{url}{JOBS}", json={"screenshots": screenshots, **fields}, timeout=30)
    assert response.status_code == 202, response.text
    return response


def answered_by_other(send: Any, creator: str, what: str) -> httpx.Response:
    """Repeat ``send`` until a replica other than ``creator`` answers (routing is random)."""

    def other() -> httpx.Response | None:
        response: httpx.Response = send()
        return response if response.headers[REPLICA] != creator else None

    return wait_for(other, 30, f"{what} answered by the other replica", every_s=0.0)


def status_of(url: str, job_id: str) -> str:
    status: str = httpx.get(f"{url}{JOBS}/{job_id}", timeout=10).json()["status"]
    return status


def test_a_job_is_read_streamed_and_cancelled_through_the_replica_that_does_not_run_it(
    served: Served,  # noqa: F811
) -> None:
    url = served.url("pair")
    both_replicas_ready(url)
    created = start_job(url, shots(6, "sleep:1.0"), maxConcurrentWorkers=1)
    job_id, creator = created.json()["jobId"], created.headers[REPLICA]
    job_url = f"{url}{JOBS}/{job_id}"

    read = answered_by_other(lambda: httpx.get(job_url, timeout=10), creator, "GET")
    assert read.status_code == 200 and read.json()["status"] in ("queued", "running")
    assert read.json()["progress"]["totalImages"] == 6

    with httpx.Client(timeout=30) as client:

        def open_stream() -> httpx.Response:
            response = client.send(client.build_request("GET", f"{job_url}/events"), stream=True)
            if response.headers[REPLICA] == creator:
                response.close()
            return response

        stream = answered_by_other(open_stream, creator, "SSE")
        try:
            lines = stream.iter_lines()
            event = next(line for line in lines if line.startswith("data: "))
            first = json.loads(event.removeprefix("data: "))
            assert first["type"] == "progress" and first["progress"]["totalImages"] == 6
        finally:
            stream.close()

    # DELETE can reach either replica: repeat on fresh jobs until the other one answers it
    deadline = time.monotonic() + 60
    while True:
        cancelled = httpx.delete(job_url, timeout=10)
        assert cancelled.status_code == 202, cancelled.text
        if cancelled.headers[REPLICA] != creator:
            break
        assert time.monotonic() < deadline, "DELETE never reached the other replica"
        created = start_job(url, shots(6, "sleep:1.0"), maxConcurrentWorkers=1)
        job_id, creator = created.json()["jobId"], created.headers[REPLICA]
        job_url = f"{url}{JOBS}/{job_id}"
    asked = time.monotonic()
    wait_for(lambda: status_of(url, job_id) == "cancelled", 5, "the running replica stops the job")
    assert time.monotonic() - asked < 2.5, "cancelled within a heartbeat and the image in flight"
    assert httpx.get(job_url).json()["result"] is None


def test_killing_one_replica_leaves_the_other_replicas_jobs_running(served: Served) -> None:  # noqa: F811
    import ray

    url = served.url("pair")
    replicas = both_replicas_ready(url)
    created = start_job(url, shots(4, "sleep:0.5"), maxConcurrentWorkers=1)
    job_id, runner = created.json()["jobId"], created.headers[REPLICA]
    (victim,) = replicas - {runner}
    ray.kill(ray.get_actor(f"SERVE_REPLICA::pair#ParserService#{victim}", namespace="serve"))
    job = wait_for(
        lambda: (
            (body := httpx.get(f"{url}{JOBS}/{job_id}", timeout=10).json())["status"] != "running"
            and body["status"] != "queued"
            and body
        ),
        60,
        "the job on the surviving replica ends",
    )
    assert job["status"] == "done" and job["result"]["stats"]["successfulImages"] == 4


def test_a_nesting_bomb_is_a_400_in_the_error_shape(served: Served) -> None:  # noqa: F811
    url = served.url("main")
    depth = 100_000
    for body in (b"[" * depth + b"]" * depth, b'{"screenshots": ' + b"[" * depth + b"]" * depth + b"}"):
        response = httpx.post(
            f"{url}{PARSER}/analyze-screenshots-parallel",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["statusCode"] == 400 and error["error"] == "Bad Request" and error["field"] == "body"
        assert "nested too deeply" in error["message"]
    assert httpx.get(f"{url}/healthz").status_code == 200, "the replica carries on"


def test_a_full_replica_answers_503_with_retry_after_and_finishes_what_it_accepted(
    served: Served,  # noqa: F811
) -> None:
    url = served.url("bulk")
    ready_body(url)
    accepted = start_job(url, shots(3, "sleep:1.0"))  # fills the bound of 3 queued images
    job_id = accepted.json()["jobId"]
    for path in ("analyze-screenshots-parallel", "jobs"):
        refused = httpx.post(f"{url}{PARSER}/{path}", json={"screenshots": shots(1)}, timeout=30)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["statusCode"] == 503 and "busy" in refused.json()["message"]
    job = wait_for(
        lambda: (body := httpx.get(f"{url}{JOBS}/{job_id}").json())["status"] == "done" and body,
        30,
        "the accepted job ends",
    )
    assert [result["status"] for result in job["result"]["results"]] == ["ok"] * 3, "nothing accepted is lost"
    after = httpx.post(f"{url}{PARSER}/analyze-screenshots", json={"screenshots": shots(1)}, timeout=30)
    assert after.status_code == 200, "room again once the work is done"


def test_healthz_answers_while_20_mb_uploads_are_in_flight(served: Served) -> None:  # noqa: F811
    """The replica taking 20 MB uploads keeps answering /healthz, and every upload completes.

    Both replicas are probed in turn through the same Serve proxy and their p99s are
    printed side by side; the numbers depend on the machine's load, so they are
    reported (and quoted from a quiet run), not asserted.
    """
    url, idle = served.url("bulk"), served.url("main")
    ready_body(url)
    ready_body(idle)
    noise = base64.b64encode(os.urandom(15 * 1024 * 1024)).decode()  # 20 MB of JSON, not an image
    body = json.dumps({"screenshots": [noise]}).encode()
    stop = threading.Event()
    done: queue.Queue[int] = queue.Queue()
    uploads: list[int] = []
    arguments = (url, body, stop, done, 60.0)
    uploaders = [threading.Thread(target=upload_forever, args=arguments) for _ in range(3)]
    for thread in uploaders:
        thread.start()
    loaded_ms: list[float] = []
    idle_ms: list[float] = []
    try:
        with httpx.Client(timeout=10) as client:
            started = time.monotonic()
            while len(loaded_ms) < 200 or len(uploads) < 6:
                for target, latencies in ((url, loaded_ms), (idle, idle_ms)):
                    before = time.perf_counter()
                    assert client.get(f"{target}/healthz").status_code == 200
                    latencies.append((time.perf_counter() - before) * 1000)
                while not done.empty():
                    uploads.append(done.get())
                time.sleep(0.02)
                assert time.monotonic() - started < 300, "uploads did not complete"
    finally:
        stop.set()
        for thread in uploaders:
            thread.join(60)
    while not done.empty():
        uploads.append(done.get())
    loaded_p99 = statistics.quantiles(loaded_ms, n=100)[98]
    idle_p99 = statistics.quantiles(idle_ms, n=100)[98]
    print(
        f"\n/healthz p99 during 20 MB uploads ({len(uploads)} sent): {loaded_p99:.1f} ms on the uploads' "
        f"replica, {idle_p99:.1f} ms on an idle one"
    )
    assert set(uploads) <= {200, 503} and 200 in uploads
    assert len(loaded_ms) >= 200, "the loaded replica answered every probe"


def test_a_client_that_disconnects_stops_the_upstream_calls(
    own_apps: Served,  # noqa: F811
    slow_gemini: FakeGeminiServer,
) -> None:
    from pipeline.backends.gemini.backend import GeminiOptions

    gemini = GeminiOptions(api_key=SecretStr("k"), base_url=slow_gemini.base_url, backoff_base_s=0.05)
    url = own_apps.deploy(
        "gemini", backend=gemini, fleet_size=1, worker_num_cpus=0.1, use_cache=False, rate_limit_per_minute=0
    )
    ready_body(url)
    slow_gemini.clear_requests()
    images = [data_url(make_scripted_png(venue=f"Venue {n}")) for n in range(20)]
    body = json.dumps({"screenshots": images}).encode()
    host, port = httpx.URL(url).host, httpx.URL(url).port
    head = (
        f"POST {httpx.URL(url).path.rstrip('/')}{PARSER}/analyze-screenshots HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port)) as client:  # about 20 x 0.3 s of work on one worker
        client.sendall(head + body)
        wait_for(lambda: len(slow_gemini.requests) >= 2, 120, "the request's first upstream calls")
    gave_up = time.monotonic()  # the client is gone, two or more images into the request
    counts: list[tuple[float, int]] = []
    while time.monotonic() - gave_up < 3.0:  # watch the fake server for 3 s
        counts.append((time.monotonic() - gave_up, len(slow_gemini.requests)))
        time.sleep(0.05)
    after_one_second = max(count for at, count in counts if at <= 1.0)
    final = counts[-1][1]
    print(f"\nupstream calls: {after_one_second} one second after the disconnect, {final} after 3 s")
    assert 2 <= final < 20
    assert final == after_one_second, "no upstream call starts later than a second after the disconnect"


RAY_INTERNALS = ("ActorID", "ActorDiedError", "RayActorError", "pid=", "ip=", "Traceback")


def test_a_dead_helper_actor_shows_in_health_and_requests_answer_cleanly(
    own_apps: Served,  # noqa: F811
    slow_gemini: FakeGeminiServer,
) -> None:
    import ray

    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.budget_actor import get_rate_limiter
    from pipeline.ratelimit import RateLimitOptions

    gemini = GeminiOptions(api_key=SecretStr("k"), base_url=slow_gemini.base_url, backoff_base_s=0.05)
    budget = RateLimitOptions(model="dead-helper", rpm=4321)  # a rate-limiter actor no other test shares
    url = own_apps.deploy(
        "budget", backend=gemini, fleet_size=1, worker_num_cpus=0.1, use_cache=False, budget=budget
    )
    ready_body(url)
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    limiter = get_rate_limiter(budget)
    ray.kill(limiter, no_restart=True)  # down for good: the outage lasts as long as the test looks

    def degraded() -> dict[str, Any] | None:
        response = httpx.get(f"{url}/healthz", timeout=10)
        return response.json() if response.status_code == 503 else None

    health = wait_for(degraded, 30, "/healthz reports the dead rate limiter")
    assert health == {"status": "degraded", "down": ["rate limiter"]}
    readiness = httpx.get(f"{url}/readyz", timeout=10)
    assert readiness.status_code == 503 and "rate limiter" in readiness.json()["waitingFor"]
    body = {"screenshots": [data_url(make_scripted_png(venue="Helper Bar"))]}
    response = httpx.post(f"{url}{PARSER}/analyze-screenshots", json=body, timeout=60)
    assert response.status_code in (200, 503), response.text
    assert not any(word in response.text for word in RAY_INTERNALS), response.text
    if response.status_code == 503:
        assert response.json()["statusCode"] == 503 and int(response.headers["Retry-After"]) >= 1
    else:  # the budget is bookkeeping: without it the image is still read (spaced out), never lost
        assert [result["status"] for result in response.json()["results"]] == ["ok"]
