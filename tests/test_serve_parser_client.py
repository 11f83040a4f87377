"""ParserClient's answers to what a handle call can raise, on a stand-in handle (no Ray needed).

The real thing (a replica killed mid-request under a real Serve) is in
tests/test_serve_replica_failures.py; these pin the branches it cannot force on
demand: no replica left within the bound, a refusal passed through, a cancelled call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ray.exceptions import ActorDiedError, RayTaskError
from ray.serve.exceptions import ReplicaUnavailableError

from pipeline.images import ImagePayload
from pipeline.jobs import RunRequest
from serve.errors import ApiError
from serve.parser_client import ParserClient


class Stream:
    """A streamed call: yields what ``items`` says (an exception is raised, ``"hang"`` never comes)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.cancelled = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        item = self.items.pop(0)
        if item == "hang":
            await asyncio.Event().wait()
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> None:
        self.cancelled = True


class Handle:
    """A stand-in ``DeploymentHandle`` whose ``run`` calls play the scripts given, one per call."""

    def __init__(self, *scripts: list[Any]) -> None:
        self.scripts = list(scripts)
        self.calls: list[Stream] = []
        self.run = self

    def options(self, **_: Any) -> Handle:
        return self

    def remote(self, request: RunRequest) -> Stream:
        stream = Stream(self.scripts.pop(0))
        self.calls.append(stream)
        return stream


def request() -> RunRequest:
    return RunRequest(
        items=[ImagePayload(index=0, source="image-0", data=b"png", sha256="0" * 64)], workers=1
    )


def run(handle: Handle, accept_s: float = 5.0) -> tuple[str, dict[str, Any]]:
    return asyncio.run(ParserClient(handle, accept_s=accept_s).run(request()))


def test_a_run_whose_replica_died_is_sent_once_more_and_the_second_answer_returned() -> None:
    handle = Handle(["replica-a", ActorDiedError()], ["replica-b", {"success": True}])
    assert run(handle) == ("replica-b", {"success": True})
    assert len(handle.calls) == 2


def test_two_deaths_are_a_503_with_retry_after_that_says_what_is_known() -> None:
    handle = Handle(["replica-a", ActorDiedError()], [ReplicaUnavailableError("replica-b")])
    with pytest.raises(ApiError) as refused:
        run(handle)
    assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) >= 1
    assert "0 of 1 results known" in refused.value.message


def test_no_replica_taking_the_request_within_the_bound_is_a_503_and_the_wait_is_cancelled() -> None:
    handle = Handle(["hang"])
    with pytest.raises(ApiError) as refused:
        run(handle, accept_s=0.05)
    assert refused.value.status == 503 and "no parser replica took the request" in refused.value.message
    assert [call.cancelled for call in handle.calls] == [True], "no call is left queued in Serve"


def test_after_a_death_the_retry_waits_for_a_replica_within_the_bound_only() -> None:
    handle = Handle(["replica-a", ActorDiedError()], ["hang"])
    with pytest.raises(ApiError) as refused:
        run(handle, accept_s=0.05)
    assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) >= 1
    assert "no parser replica took the request" in refused.value.message
    assert len(handle.calls) == 2 and handle.calls[1].cancelled


def test_a_refusal_of_the_parser_passes_through_as_raised_there_and_is_not_retried() -> None:
    busy = ApiError(503, "the server is busy", headers={"Retry-After": "3"})
    handle = Handle(["replica-a", RayTaskError("run", "traceback", busy).as_instanceof_cause()])
    with pytest.raises(ApiError) as refused:
        run(handle)
    assert (refused.value.status, refused.value.message, refused.value.headers) == (
        503,
        busy.message,
        busy.headers,
    )
    assert len(handle.calls) == 1


def test_cancelling_the_call_cancels_the_run_on_the_replica() -> None:
    handle = Handle(["replica-a", "hang"])

    async def scenario() -> None:
        call = asyncio.ensure_future(ParserClient(handle).run(request()))
        while not handle.calls:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())
    assert handle.calls[0].cancelled
