"""The two alternatives to our pipeline, each in a few lines, on the same SDK call.

- ``batch_barrier``: the original app's design, reimplemented faithfully: the
  images go in fixed batches of k, one new thread and one new SDK client per
  image, each batch waits for its slowest image, then 100 ms, then the next.
  No retries: a failed request is a failed image.
- ``AsyncioGather``: what a Python user would write by hand: ``asyncio.gather``
  over every image, a semaphore of k around ``client.aio.models.generate_content``,
  one client. No retries either.

Both send what our Gemini backend sends (the image, our prompt, JSON mode with
our response schema) and read the reply with ``json.loads``. Each returns an
``Outcome``: the wall time and the time of every image, as the client saw it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.backends.gemini.backend import GeminiOptions, make_client
from pipeline.backends.gemini.output import build_prompt, response_schema

BATCH_PAUSE_S = 0.1  # the original app slept this long between batches


@dataclass
class Outcome:
    """What one contender run produced, as its client measured it."""

    wall_s: float
    image_ms: list[float] = field(default_factory=list)
    failed: int = 0


def request_contents(png: bytes) -> list[Any]:
    """The image and our prompt, as our Gemini backend sends them."""
    from google.genai import types

    return [types.Part.from_bytes(data=png, mime_type="image/png"), build_prompt()]


def request_config() -> Any:
    """JSON mode with our response schema, temperature 0, no function calling."""
    from google.genai import types

    return types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=response_schema(),
        temperature=0.0,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


# --- the original design: batch barrier, a thread and a client per image ----------------


def _one_image_in_thread(
    options: GeminiOptions, png: bytes, slot: int, done: list[tuple[float, bool]]
) -> None:
    """One image as the old app did it: a fresh client, one call, no retry."""
    started = time.perf_counter()
    try:
        client = make_client(options)
        response = client.models.generate_content(
            model=options.model, contents=request_contents(png), config=request_config()
        )
        json.loads(response.text or "")
        client.close()
        ok = True
    except Exception:  # the old app turned every failure into a failed image, silently
        ok = False
    done[slot] = ((time.perf_counter() - started) * 1000, ok)


def batch_barrier(options: GeminiOptions, pngs: Sequence[bytes], k: int) -> Outcome:
    """Fixed batches of k; each waits for its slowest image plus 100 ms before the next starts."""
    done: list[tuple[float, bool]] = [(0.0, False)] * len(pngs)
    started = time.perf_counter()
    for first in range(0, len(pngs), k):
        threads = [
            threading.Thread(target=_one_image_in_thread, args=(options, pngs[i], i, done))
            for i in range(first, min(first + k, len(pngs)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if first + k < len(pngs):
            time.sleep(BATCH_PAUSE_S)
    wall_s = time.perf_counter() - started
    return Outcome(wall_s, [ms for ms, _ in done], sum(1 for _, ok in done if not ok))


# --- the hand-written baseline: asyncio.gather with a semaphore ---------------------------


class AsyncioGather:
    """One event loop and one async client for the whole benchmark (like a long-lived app)."""

    def __init__(self, options: GeminiOptions) -> None:
        self.options = options
        self._runner = asyncio.Runner()
        self._client = make_client(options)

    def run(self, pngs: Sequence[bytes], k: int) -> Outcome:
        return self._runner.run(self._gather(pngs, k))

    def close(self) -> None:
        self._runner.run(self._client.aio.aclose())
        self._runner.close()
        self._client.close()

    async def _gather(self, pngs: Sequence[bytes], k: int) -> Outcome:
        semaphore = asyncio.Semaphore(k)
        started = time.perf_counter()
        done = await asyncio.gather(*(self._one(semaphore, png) for png in pngs))
        wall_s = time.perf_counter() - started
        return Outcome(wall_s, [ms for ms, _ in done], sum(1 for _, ok in done if not ok))

    async def _one(self, semaphore: asyncio.Semaphore, png: bytes) -> tuple[float, bool]:
        async with semaphore:
            started = time.perf_counter()
            try:
                response = await self._client.aio.models.generate_content(
                    model=self.options.model, contents=request_contents(png), config=request_config()
                )
                json.loads(response.text or "")
                ok = True
            except Exception:  # hand-written code rarely does more; no retries
                ok = False
            return (time.perf_counter() - started) * 1000, ok
