"""The fake server's Batch and Files APIs, driven by the real google-genai SDK over HTTP."""

from __future__ import annotations

import hashlib
import time

import pytest
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.backends.gemini.batch import GeminiBatchClient, build_request, display_name_for
from pipeline.images import open_image, read_bytes
from pipeline.testing.fake_gemini import FakeGeminiServer
from pipeline.testing.fake_gemini_batch import FakeBatchOptions
from pipeline.testing.scripted import make_scripted_png


def _options(server: FakeGeminiServer) -> GeminiOptions:
    return GeminiOptions(api_key=SecretStr("test-key"), base_url=server.base_url)


def _requests(options: GeminiOptions, count: int) -> list:  # type: ignore[type-arg]
    requests = []
    for number in range(count):
        data = make_scripted_png(venue=f"Bar {number}")
        payload = read_bytes(data, number, max_bytes=1_000_000)
        image = open_image(payload, max_pixels=10_000_000)
        requests.append(build_request(options, image, None, payload.sha256))
    return requests


def _wait_done(client: GeminiBatchClient, name: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(name).state
        if state in ("succeeded", "failed", "cancelled", "expired"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"{name} not done in {timeout_s} s")


@pytest.mark.parametrize("inline", [True, False])
def test_a_job_inline_or_from_a_file_answers_every_request(server: FakeGeminiServer, inline: bool) -> None:
    server.batches.configure(FakeBatchOptions(delay_s=0.2))
    options = _options(server)
    client = GeminiBatchClient(options)
    requests = _requests(options, 3)
    name = display_name_for([r.key for r in requests], f"t-{inline}")
    job = client.create(requests, name, inline=inline)
    assert job.state == "pending" and job.name.startswith("batches/")
    assert _wait_done(client, job.name) == "succeeded"
    answers = list(client.answers(client.get(job.name)))
    assert sorted(a.key for a in answers) == sorted(r.key for r in requests)
    assert all(a.schedule is not None and a.schedule.shows and a.usage for a in answers)
    assert server.batches.creates[name] == 1
    assert client.find(name) is not None and client.find("no-such-name") is None


def test_job_states_expired_failed_cancelled_and_a_request_error(server: FakeGeminiServer) -> None:
    options = _options(server)
    client = GeminiBatchClient(options)
    requests = _requests(options, 2)
    first = len(server.batches.jobs) + 1
    server.batches.configure(
        FakeBatchOptions(
            delay_s=0.1, expire_jobs={first}, fail_jobs={first + 1}, fail_images={requests[0].key}
        )
    )
    expired = client.create(requests, "expires", inline=True)
    failed = client.create(requests, "fails", inline=True)
    partial = client.create(requests, "partial", inline=True)
    assert _wait_done(client, expired.name) == "expired"
    assert _wait_done(client, failed.name) == "failed"
    assert _wait_done(client, partial.name) == "succeeded"
    by_key = {a.key: a for a in client.answers(client.get(partial.name))}
    assert by_key[requests[0].key].error is not None
    assert by_key[requests[0].key].error.code == "upstream_error"  # a 400, as online
    assert by_key[requests[1].key].schedule is not None
    server.batches.configure(FakeBatchOptions(delay_s=60))
    slow = client.create(requests, "cancelled", inline=True)
    client.cancel(slow.name)
    assert client.get(slow.name).state == "cancelled"


def test_a_429_on_create_waits_its_retry_delay_and_makes_one_job(server: FakeGeminiServer) -> None:
    server.batches.configure(FakeBatchOptions(create_429s=2, create_retry_delay_s=1.0))
    slept: list[float] = []
    client = GeminiBatchClient(_options(server), sleep=slept.append)
    job = client.create(_requests(_options(server), 1), "after-429", inline=True)
    assert slept == [1.0, 1.0]
    assert server.batches.creates["after-429"] == 1 and job.name in server.batches.jobs


def test_list_pages_through_many_jobs(server: FakeGeminiServer) -> None:
    server.batches.configure(FakeBatchOptions())
    client = GeminiBatchClient(_options(server))
    request = _requests(_options(server), 1)
    for number in range(60):
        client.create(request, f"many-{number}", inline=True)
    assert client.find("many-0") is not None  # on the second page, newest first
    digest = hashlib.sha256(b"x").hexdigest()
    assert display_name_for([digest], "a") != display_name_for([digest], "b")
