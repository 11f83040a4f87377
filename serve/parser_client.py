"""The front's calls to the parser deployment: bounded, retried once when a replica dies.

Serve's own proxy turns a replica that dies mid-request into ``500 text/plain``
(docs/replica-failures.md). The front holds the HTTP connection instead and calls the
parser through a ``DeploymentHandle``, so it sees the death as an exception and answers:

- a sync request whose replica died (``ActorDiedError``, or any ``RayActorError``;
  Serve's ``ReplicaUnavailableError`` / ``DeploymentUnavailableError``) is sent once more:
  Serve's router has dropped the dead replica, so the retry goes to another one (or to
  the replacement Serve starts, if it takes the request in time);
- when no replica takes a request within ``accept_s`` (the only one died and its
  replacement is still starting its fleet, or every replica has ``max_ongoing_requests``),
  the answer is ``503`` with ``Retry-After``; so is a second death;
- a refusal the parser raised (``ApiError``: busy, a client that left) passes through as is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import DeploymentUnavailableError, ReplicaUnavailableError

from pipeline.jobs import RunRequest
from serve.errors import ApiError, ReplicaGoneError

log = logging.getLogger(__name__)
T = TypeVar("T")

REPLICA_GONE = (RayActorError, ReplicaUnavailableError, DeploymentUnavailableError)
ACCEPT_S = 15.0  # a live replica takes a request at once; at a load of 10-20 on 2 cores, in seconds
PROBE_S = 5.0  # a probe (/readyz) waits this long for a parser replica
SUBMIT_S = 60.0  # starting a job is a few actor calls, also on a busy machine
RETRY_AFTER_S = 5  # a replacement replica started its fleet in ~16 s here: a few tries


def unavailable(what: str) -> ApiError:
    """The 503 a client may retry: the parser's replica (or every replica) is gone for now."""
    return ApiError(
        503,
        f"{what}; retry in {RETRY_AFTER_S} s",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class ParserClient:
    """The parser deployment as the front sees it: each call bounded, each failure an ``ApiError``."""

    def __init__(self, handle: Any, accept_s: float = ACCEPT_S) -> None:
        self.handle = handle
        self.accept_s = accept_s

    async def run(self, request: RunRequest) -> tuple[str, dict[str, Any]]:
        """(replica, wire JSON) of a sync request, sent again once if its replica dies.

        Cancelling this call cancels the parser's run (the client went away).
        """
        images = len(request.items)
        try:
            return await self._run_once(request)
        except ReplicaGoneError as first:
            log.warning("a parser replica died running %d image(s) (%s); sending them again", images, first)
        try:
            return await self._run_once(request)
        except ReplicaGoneError as second:
            log.warning("the parser replica running a retried request died too: %s", second)
            raise unavailable(
                f"the replicas running this request stopped before answering (0 of {images} results known)"
            ) from None

    async def submit(self, request: RunRequest) -> tuple[str, dict[str, Any]]:
        """(replica, ``{jobId, status}``) of a new job; sent again once if its replica dies."""
        for attempt in (1, 2):
            try:
                return await _bounded(lambda: self.handle.submit.remote(request), SUBMIT_S)
            except ReplicaGoneError as exc:
                log.warning("starting a job failed on a parser replica (attempt %d): %s", attempt, exc)
        raise unavailable("no parser replica could start the job")

    async def readiness(self) -> tuple[str, dict[str, Any]]:
        """(replica, its ``/readyz`` body) from whichever replica answers within ``PROBE_S``."""
        return await _bounded(lambda: self.handle.readiness.remote(), PROBE_S)

    async def ping(self) -> bool:
        """True once a parser replica answers (for the front's health watch, which bounds it)."""
        return await _bounded(lambda: self.handle.ping.remote(), None)

    async def _run_once(self, request: RunRequest) -> tuple[str, dict[str, Any]]:
        stream = self.handle.options(stream=True).run.remote(request)
        finished = False
        try:
            try:
                replica = await asyncio.wait_for(stream.__anext__(), self.accept_s)
            except TimeoutError:
                waited = f"{self.accept_s:g} s"
                raise unavailable(
                    f"no parser replica took the request within {waited} (all busy, or one is starting)"
                ) from None
            answer = await stream.__anext__()
            finished = True
            return str(replica), answer
        except REPLICA_GONE as exc:
            raise ReplicaGoneError(type(exc).__name__) from exc
        except RayTaskError as exc:
            raise _unwrapped(exc) from None
        finally:
            if not finished:
                stream.cancel()  # stops the run on the replica (a client gone, a timeout)


async def _bounded(call: Callable[[], Awaitable[T]], timeout_s: float | None) -> T:
    """Await one handle call within ``timeout_s``; a dead or missing replica is ``ReplicaGoneError``."""
    response: Any = call()
    try:
        return await asyncio.wait_for(_awaited(response), timeout_s)
    except TimeoutError:
        response.cancel()
        raise ReplicaGoneError(f"no replica answered within {timeout_s:g} s") from None
    except asyncio.CancelledError:
        response.cancel()
        raise
    except REPLICA_GONE as exc:
        raise ReplicaGoneError(type(exc).__name__) from exc
    except RayTaskError as exc:
        raise _unwrapped(exc) from None


async def _awaited(response: Awaitable[T]) -> T:
    return await response


def _unwrapped(exc: Exception) -> Exception:
    """The parser's own refusal (``ApiError``) as raised there; anything else as it came."""
    cause: object = getattr(exc, "cause", None)
    if isinstance(cause, ApiError):
        return cause
    if isinstance(cause, REPLICA_GONE):
        return ReplicaGoneError(type(cause).__name__)
    return exc
