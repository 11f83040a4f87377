"""Whether the cluster's helper actors answer, watched in the background.

``/healthz`` and ``/readyz`` are polled often, by load balancers and by operators, and
must answer fast even while the replica relays big uploads. Pinging each helper actor
inside the probe put two actor round trips (and two more processes to be scheduled on a
busy machine) on every probe's path. A ``HelperWatch`` pings them on its own schedule
instead, and a probe reads the last verdict: a helper is down once its last ping failed
or went unanswered for ``timeout_s``, or answered with a problem (a string: the request
budget says so when no slot has opened for longer than its window while requests wait).
A verdict is at most ``interval_s`` (+ ``timeout_s`` for a stuck helper) old.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Ping = Callable[[], Awaitable[Any]]


class HelperWatch:
    """The up/down verdict of named helpers, refreshed every ``interval_s`` on the running loop."""

    def __init__(self, pings: Mapping[str, Ping], *, interval_s: float, timeout_s: float) -> None:
        self._pings = dict(pings)
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._failed: dict[str, str | None] = {}  # name -> the problem it reported, if it said one
        self._first_round = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def down(self) -> list[str]:
        """The helpers that do not answer or report a problem, in the order they were named.

        The first call starts the watch and waits for its first round, so a replica never
        reports helpers up that it has not heard from.
        """
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())
        await self._first_round.wait()
        return [
            name if self._failed[name] is None else f"{name} ({self._failed[name]})"
            for name in self._pings
            if name in self._failed
        ]

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.gather(*(self._ping(name, ping) for name, ping in self._pings.items()))
            self._first_round.set()
            await asyncio.sleep(self._interval_s)

    async def _ping(self, name: str, ping: Ping) -> None:
        try:
            answer = await asyncio.wait_for(ping(), timeout=self._timeout_s)
        except Exception:  # dead, restarting or stuck: all the same to a client
            self._failed[name] = None
            return
        if isinstance(answer, str):
            self._failed[name] = answer
        else:
            self._failed.pop(name, None)
