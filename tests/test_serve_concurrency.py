"""Many requests at once share one fleet: every image comes back right, no actor leaks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from serve_harness import Served, ready_body, served  # noqa: F401 - the fixture is used by name
from test_serve_api import data_url

from pipeline.testing.scripted import make_scripted_png

pytestmark = [pytest.mark.ray, pytest.mark.serve, pytest.mark.slow]
REQUESTS, IMAGES = 20, 5


def worker_processes() -> int:
    """Live worker actor processes of this test's Ray (named ``ray::ImageWorker``), not others'."""
    import psutil
    import ray

    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    count = 0
    for child in psutil.Process(raylet).children():
        cmdline = child.cmdline() if child.is_running() else []
        count += bool(cmdline) and cmdline[0].startswith("ray::ImageWorker")
    return count


def request_body(request: int) -> dict[str, Any]:
    venues = [f"Venue {request}-{image}" for image in range(IMAGES)]
    screenshots = [data_url(make_scripted_png("sleep:0.1", venue=venue)) for venue in venues]
    return {"screenshots": screenshots, "maxConcurrentWorkers": request % 5 + 1}


async def send_all(url: str) -> list[httpx.Response]:
    target = f"{url}/api/parser/analyze-screenshots-parallel"
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=REQUESTS)) as client:
        return list(
            await asyncio.gather(*(client.post(target, json=request_body(r)) for r in range(REQUESTS)))
        )


def test_twenty_concurrent_requests_of_five_images(served: Served) -> None:  # noqa: F811
    url = served.url("main")
    assert ready_body(url)["workers"] == 5
    processes_before = worker_processes()
    started = time.monotonic()
    responses = asyncio.run(send_all(url))
    wall_s = time.monotonic() - started
    assert [response.status_code for response in responses] == [200] * REQUESTS
    workers_seen: set[str] = set()
    for request, response in enumerate(responses):
        parsed = response.json()
        assert [r["status"] for r in parsed["results"]] == ["ok"] * IMAGES
        venues = sorted(show["venueName"] for show in parsed["data"]["shows"])
        assert venues == [f"Venue {request}-{image}" for image in range(IMAGES)], "no cross-talk"
        workers_seen.update(r["worker"] for r in parsed["results"])
    assert workers_seen <= {f"worker-{n}" for n in range(1, 6)}, "requests never pay for new actors"
    assert worker_processes() == processes_before, "no worker actor leaked or died"
    readiness = httpx.get(f"{url}/readyz").json()
    assert readiness["ready"] is True and readiness["workers"] == readiness["wanted"] == 5
    # 100 images of >= 100 ms on 5 workers: at least 2 s of work (the throughput is bench/serve_load's)
    print(
        f"\n{REQUESTS} requests x {IMAGES} images: {wall_s:.2f} s wall, workers used {sorted(workers_seen)}"
    )
