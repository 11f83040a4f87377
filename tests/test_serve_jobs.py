"""Asynchronous jobs over real HTTP: status, SSE, WebSocket, cancel, restart, expiry."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from serve_harness import ADMIN_TOKEN, Served, served, wait_for  # noqa: F401 - the fixture is used by name
from test_serve_api import shots

pytestmark = [pytest.mark.ray, pytest.mark.serve]
JOBS = "/api/parser/jobs"


@pytest.fixture(scope="module")
def url(served: Served) -> str:  # noqa: F811 - pytest injects the imported fixture
    return served.url("main")


def start_job(url: str, screenshots: list[str], **fields: Any) -> dict[str, Any]:
    headers = fields.pop("headers", {})
    response = httpx.post(f"{url}{JOBS}", json={"screenshots": screenshots, **fields}, headers=headers)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


def wait_until_ended(
    url: str, job_id: str, timeout_s: float = 30, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{url}{JOBS}/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout_s} s")


def test_a_job_answers_202_at_once_and_its_result_is_read_when_done(url: str) -> None:
    accepted = start_job(url, shots(5, "sleep:0.6"), maxConcurrentWorkers=2)  # about 1.8 s of work
    job_id = accepted["jobId"]
    assert accepted["urls"] == {
        "status": f"{JOBS}/{job_id}",
        "events": f"{JOBS}/{job_id}/events",
        "websocket": f"{JOBS}/{job_id}/ws",
    }
    running = httpx.get(f"{url}{JOBS}/{job_id}").json()
    assert running["status"] in ("queued", "running") and running["result"] is None, "202 comes first"
    assert running["progress"]["totalImages"] == 5
    job = wait_until_ended(url, job_id)
    assert job["status"] == "done" and job["progress"]["processedImages"] == 5
    stats = job["result"]["stats"]
    assert stats["successfulImages"] == 5 and stats["maxConcurrentWorkers"] == 2


def test_server_sent_events_stream_increasing_progress_then_done(url: str) -> None:
    accepted = start_job(url, shots(6, "sleep:0.25"), maxConcurrentWorkers=2)
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("GET", f"{url}{accepted['urls']['events']}", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}
    processed = [data["progress"]["processedImages"] for name, data in events if name == "progress"]
    assert processed == sorted(processed) and len(set(processed)) >= 3 and processed[-1] == 6
    assert events[-1][1]["job"]["result"]["stats"]["totalImages"] == 6


def test_the_websocket_sends_the_same_progress_and_a_final_message(url: str) -> None:
    from websockets.sync.client import connect

    accepted = start_job(url, shots(4, "sleep:0.25"), maxConcurrentWorkers=1)
    ws_url = url.replace("http://", "ws://") + accepted["urls"]["websocket"]
    with connect(ws_url, open_timeout=10) as websocket:
        messages = [json.loads(message) for message in websocket]
    assert messages[-1]["type"] == "done" and messages[-1]["status"] == "done"
    processed = [m["progress"]["processedImages"] for m in messages if m["type"] == "progress"]
    assert processed == sorted(processed) and processed[-1] == 4 and len(set(processed)) >= 3


def test_delete_cancels_a_running_job(url: str) -> None:
    accepted = start_job(url, shots(5, "sleep:1.5"), maxConcurrentWorkers=1)
    job_id = accepted["jobId"]
    wait_for(lambda: httpx.get(f"{url}{JOBS}/{job_id}").json()["status"] == "running", 60, "job running")
    cancelled = httpx.delete(f"{url}{JOBS}/{job_id}")
    assert cancelled.status_code == 202
    started = time.monotonic()
    job = wait_until_ended(url, job_id)
    print(f"\ncancelled {time.monotonic() - started:.2f} s after DELETE")
    assert job["status"] == "cancelled" and job["result"] is None
    assert job["progress"]["processedImages"] < 5, "it stopped before the remaining images ran"
    assert httpx.delete(f"{url}{JOBS}/{job_id}").status_code == 409


def test_unknown_and_malformed_job_ids_are_404(url: str) -> None:
    for job_id in ("0" * 32, "..%2F..%2Fetc%2Fpasswd", "not-a-job"):
        response = httpx.get(f"{url}{JOBS}/{job_id}")
        assert response.status_code == 404 and response.json()["statusCode"] == 404
    assert httpx.get(f"{url}{JOBS}/{'0' * 32}/events").status_code == 404


def test_an_admin_job_needs_the_token_and_is_marked_for_approval(url: str) -> None:
    refused = httpx.post(f"{url}{JOBS}", json={"screenshots": shots(1), "isAdminUpload": True})
    assert refused.status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    accepted = start_job(url, shots(2), isAdminUpload=True, headers=headers)
    job = wait_until_ended(url, accepted["jobId"], headers=headers)
    assert job["status"] == "done" and job["requiresApproval"] is True and job["admin"] is True
    job_url = f"{url}{JOBS}/{accepted['jobId']}"
    for wrong in ({}, {"Authorization": "Bearer nope"}):  # the result of an admin upload is admin-only
        refused_read = httpx.get(job_url, headers=wrong)
        assert refused_read.status_code == 401 and "result" not in refused_read.json()
        assert httpx.get(f"{job_url}/events", headers=wrong).status_code == 401
        assert httpx.delete(job_url, headers=wrong).status_code == 401


def test_finished_results_survive_a_serve_restart(served: Served, url: str) -> None:  # noqa: F811
    job_id = start_job(url, shots(3), maxConcurrentWorkers=3)["jobId"]
    before = wait_until_ended(url, job_id)
    served.restart()
    after = httpx.get(f"{served.url('main')}{JOBS}/{job_id}")
    assert after.status_code == 200
    assert after.json()["status"] == "done" and after.json()["result"] == before["result"]
