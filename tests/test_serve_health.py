"""HelperWatch: a probe reads the last verdict on the helper actors, and the verdict follows them."""

from __future__ import annotations

import asyncio

from serve.health import HelperWatch


class Helper:
    """A stand-in helper whose ping answers, fails or hangs, as the test sets it; counts its pings."""

    def __init__(self) -> None:
        self.mode = "up"
        self.pings = 0

    async def ping(self) -> bool | str:
        self.pings += 1
        if self.mode == "dead":
            raise RuntimeError("the actor died")
        if self.mode == "stuck":
            await asyncio.Event().wait()
        if self.mode == "stalled":
            return "no request slot has opened for 75 s while 4 wait"
        return True


async def verdict_becomes(watch: HelperWatch, wanted: list[str], deadline_s: float = 30.0) -> list[str]:
    async def poll() -> list[str]:
        while (down := await watch.down()) != wanted:
            await asyncio.sleep(0.01)
        return down

    return await asyncio.wait_for(poll(), deadline_s)


def test_the_verdict_follows_a_helper_that_dies_hangs_and_comes_back() -> None:
    async def scenario() -> None:
        progress, budget = Helper(), Helper()
        watch = HelperWatch(
            {"progress": progress.ping, "rate limiter": budget.ping}, interval_s=0.01, timeout_s=0.2
        )
        try:
            assert await watch.down() == [], "the first probe waits for the first round"
            budget.mode = "dead"
            assert await verdict_becomes(watch, ["rate limiter"]) == ["rate limiter"]
            progress.mode = "stuck"
            assert await verdict_becomes(watch, ["progress", "rate limiter"]) == ["progress", "rate limiter"]
            progress.mode = budget.mode = "up"
            assert await verdict_becomes(watch, []) == []
        finally:
            watch.close()

    asyncio.run(scenario())


def test_probes_do_not_ping_the_helpers_themselves() -> None:
    async def scenario() -> int:
        helper = Helper()
        watch = HelperWatch({"progress": helper.ping}, interval_s=3600, timeout_s=5)
        try:
            for _ in range(100):
                assert await watch.down() == []
            return helper.pings
        finally:
            watch.close()

    assert asyncio.run(scenario()) == 1, "one round for a hundred probes: the probes read the verdict"


def test_a_probe_before_the_first_answer_waits_for_it_and_does_not_report_up() -> None:
    async def scenario() -> list[str]:
        helper = Helper()
        helper.mode = "stuck"
        watch = HelperWatch({"progress": helper.ping}, interval_s=0.01, timeout_s=0.2)
        try:
            return await watch.down()
        finally:
            watch.close()

    assert asyncio.run(scenario()) == ["progress"]


def test_a_helper_that_answers_with_a_problem_is_reported_with_it() -> None:
    async def scenario() -> None:
        budget = Helper()
        watch = HelperWatch({"rate limiter": budget.ping}, interval_s=0.01, timeout_s=0.2)
        await verdict_becomes(watch, [])
        budget.mode = "stalled"
        await verdict_becomes(watch, ["rate limiter (no request slot has opened for 75 s while 4 wait)"])
        budget.mode = "up"
        await verdict_becomes(watch, [])
        watch.close()

    asyncio.run(scenario())
