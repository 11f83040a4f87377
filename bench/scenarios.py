"""The three scenarios: throughput against the alternatives, an RPM limit, local OCR.

Every measured run starts by resetting the fake server (same seeded latency
draws, fresh RPM window, empty log); its request log then gives the server's
side of the run. Contenders take turns in an order that rotates with the
repetition, so slow spells on a shared machine do not always hit the same one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bench.baselines import AsyncioGather, Outcome, batch_barrier
from bench.config import BENCH_KEY, SAMPLES_DIR, BenchConfig, RateLimitScenario
from bench.ours import WarmPipeline, bench_plan, outcome_of, run_parse_cold
from bench.records import Contender, RunRecord, make_record
from bench.server import ServerProcess
from pipeline.backends.base import LocalOptions
from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.images import ImagePayload, find_images, read_bytes, read_path
from pipeline.ratelimit import RateLimitOptions
from pipeline.testing.fake_gemini import FakeGeminiOptions
from pipeline.testing.scripted import make_scripted_png

FLEET_SIZE = 5  # Gemini workers take the plan's small CPU share: a warm five and a cold five fit
Run = Callable[[], Outcome]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_payloads(count: int) -> list[ImagePayload]:
    """``count`` tiny real PNGs, each with its own content and sha256."""
    return [read_bytes(make_scripted_png(venue=f"Bar {n}"), n, max_bytes=10**6) for n in range(count)]


def gemini_options(base_url: str) -> GeminiOptions:
    return GeminiOptions(api_key=BENCH_KEY, base_url=base_url)


def server_options(config: BenchConfig, limit: RateLimitScenario | None = None) -> FakeGeminiOptions:
    latency = config.latency
    return FakeGeminiOptions(
        extract="echo",
        latency_median_ms=latency.median_ms,
        latency_sigma=latency.sigma,
        seed=latency.seed,
        rpm=limit.rpm if limit else None,
        rate_window_s=limit.window_s if limit else 60.0,
    )


def rotated(items: Sequence[tuple[Contender, Run]], by: int) -> list[tuple[Contender, Run]]:
    shift = by % len(items)
    return [*items[shift:], *items[:shift]]


# --- scenario 1: throughput ---------------------------------------------------------------


class ThroughputBench:
    """Scenario 1: every contender, every size and k, on one server and one warm fleet."""

    def __init__(self, config: BenchConfig, server: ServerProcess) -> None:
        self.config = config
        self.server = server
        self.options = gemini_options(server.base_url)
        self.records: list[RunRecord] = []

    def run(self) -> tuple[list[RunRecord], float]:
        """Every repetition; returns the records and the warm fleet's start-up time."""
        pipeline = WarmPipeline(bench_plan(self.options, FLEET_SIZE), FLEET_SIZE)
        log(f"warm fleet of {FLEET_SIZE} started in {pipeline.startup_s:.2f} s (not part of any run)")
        asyncio_gather = AsyncioGather(self.options)
        try:
            self._warm_up(pipeline, asyncio_gather)
            for repeat in range(self.config.repeats):
                for size in self.config.sizes:
                    self._one_size(pipeline, asyncio_gather, size, repeat)
                self._cold(repeat)
        finally:
            asyncio_gather.close()
            pipeline.close()
        return self.records, pipeline.startup_s

    def _warm_up(self, pipeline: WarmPipeline, asyncio_gather: AsyncioGather) -> None:
        """First connections and imports happen here, before the server is reset for a measurement."""
        payloads = make_payloads(FLEET_SIZE * 2)
        pipeline.run(payloads, FLEET_SIZE)
        asyncio_gather.run([p.data for p in payloads], FLEET_SIZE)

    def _one_size(
        self, pipeline: WarmPipeline, asyncio_gather: AsyncioGather, size: int, repeat: int
    ) -> None:
        payloads = make_payloads(size)
        pngs = [payload.data for payload in payloads]
        ks = self.config.workers_for(size)
        if 1 not in ks:  # the sequential pipeline is the baseline of every speedup
            self._measure("pipeline", 1, repeat, lambda: outcome_of(pipeline.run(payloads, 1)))
        for k in ks:
            contenders: list[tuple[Contender, Run]] = [
                ("pipeline", lambda k=k: outcome_of(pipeline.run(payloads, k))),  # type: ignore[misc]
                ("asyncio", lambda k=k: asyncio_gather.run(pngs, k)),  # type: ignore[misc]
                ("batch-barrier", lambda k=k: batch_barrier(self.options, pngs, k)),  # type: ignore[misc]
            ]
            for contender, run in rotated(contenders, repeat + k):
                self._measure(contender, k, repeat, run)

    def _cold(self, repeat: int) -> None:
        """run_parse as the CLI calls it, starting its own actors: start-up included."""
        size, k = self.config.sizes[0], self.config.cold_workers
        payloads = make_payloads(size)
        self._measure(
            "pipeline-cold",
            k,
            repeat,
            lambda: outcome_of(run_parse_cold(payloads, bench_plan(self.options, k), k)),
        )

    def _measure(self, contender: Contender, k: int, repeat: int, run: Run) -> None:
        self.server.reset(server_options(self.config))
        outcome = run()
        record = make_record(
            outcome,
            self.server.requests(),
            scenario="throughput",
            contender=contender,
            workers=k,
            repeat=repeat,
        )
        self.records.append(record)
        log(
            f"rep {repeat + 1} n={record.images} {contender:<13} k={k}: {record.wall_s:7.2f} s, "
            f"overhead {record.overhead_ms:6.1f} ms/image, failed {record.failed}, load {record.load_1m:.2f}"
        )


# --- scenario 2: an RPM limit ---------------------------------------------------------------


def run_rate_limit(config: BenchConfig, server: ServerProcess) -> list[RunRecord]:
    """Scenario 2: the server allows ``rpm`` per window; our limiter is told the same numbers."""
    scenario = config.rate_limit
    if scenario is None:
        return []
    options = gemini_options(server.base_url)
    limits = RateLimitOptions(model=options.model, rpm=scenario.rpm, window_s=scenario.window_s)
    payloads = make_payloads(scenario.images)
    pngs = [payload.data for payload in payloads]
    k = scenario.workers
    asyncio_gather = AsyncioGather(options)
    contenders: list[tuple[Contender, Run]] = [
        ("pipeline", lambda: _limited_pipeline_run(payloads, options, k, limits)),
        ("asyncio", lambda: asyncio_gather.run(pngs, k)),
        ("batch-barrier", lambda: batch_barrier(options, pngs, k)),
    ]
    records = []
    try:
        for repeat in range(config.repeats):
            for contender, run in rotated(contenders, repeat):
                server.reset(server_options(config, scenario))
                outcome = run()
                record = make_record(
                    outcome, server.requests(), scenario="rate_limit", contender=contender, workers=k,
                    repeat=repeat, rate_window_s=scenario.window_s, rate_limit=scenario.rpm,
                )  # fmt: skip
                records.append(record)
                log(
                    f"rep {repeat + 1} rpm {contender:<13}: {record.wall_s:6.2f} s, {record.answered} ok, "
                    f"{record.http_429} x 429, failed {record.failed}, sustained {record.sustained_ratio}"
                )
    finally:
        asyncio_gather.close()
    return records


def _limited_pipeline_run(
    payloads: list[ImagePayload], options: GeminiOptions, k: int, limits: RateLimitOptions
) -> Outcome:
    """run_parse with the shared limiter, after one window of rest.

    The limiter is a named actor that outlives a job; waiting one window lets
    the slots of the previous run leave it, as they have left the server's.
    """
    time.sleep(limits.window_s + limits.spacing_s)
    return outcome_of(run_parse_cold(payloads, bench_plan(options, k, limits), k))


# --- scenario 3: local OCR -------------------------------------------------------------------


def run_ocr(config: BenchConfig) -> list[RunRecord]:
    """Scenario 3: the OCR backend on the sample screenshots, each worker count on a warm fleet."""
    scenario = config.ocr
    if scenario is None:
        return []
    paths = find_images([SAMPLES_DIR])[: scenario.images]
    payloads = [read_path(path, index, max_bytes=10**8) for index, path in enumerate(paths)]
    records = []
    for k in scenario.workers:
        with _ocr_fleet(k) as pipeline:
            pipeline.run(payloads[:k], k)  # the first inference of each engine is slow: not timed
            for repeat in range(config.repeats):
                record = make_record(
                    outcome_of(pipeline.run(payloads, k)), [], scenario="ocr", contender="pipeline",
                    workers=k, repeat=repeat,
                )  # fmt: skip
                records.append(record)
                log(f"rep {repeat + 1} ocr k={k}: {record.wall_s:.2f} s, {record.images_per_s:.2f} images/s")
    return records


@contextmanager
def _ocr_fleet(k: int) -> Iterator[WarmPipeline]:
    """k OCR workers that split this machine's cores, as ``plan_job`` sizes them."""
    plan = bench_plan(LocalOptions(), k)
    backend = plan.backend
    assert isinstance(backend, LocalOptions)
    pipeline = WarmPipeline(plan, k)
    log(f"ocr fleet of {k} ({backend.ocr_threads} threads each) started in {pipeline.startup_s:.2f} s")
    try:
        yield pipeline
    finally:
        pipeline.close()
