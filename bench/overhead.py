"""``python -m bench.overhead``: where the pipeline's per-image overhead goes.

With zero server latency every millisecond of a run is overhead. The same
images go through, k = 1 and 5, medians of a few repetitions:

- ``asyncio``: the hand-written client (the floor: SDK + HTTP + server);
- ``runner only``: ``SupervisedPool`` on a fleet without a progress actor;
- ``run_on_fleet``: plus the progress actor (workers report start and finish,
  waiting for the finish ack) and the job's create/finish calls;
- ``run_on_fleet + reads``: plus reading progress every ``poll_interval_s``.

It also prints the median time inside the worker (decode, encode, SDK call,
validation, cleaning) next to the asyncio client's time per image, which
separates work in the worker from dispatch between processes.
"""

from __future__ import annotations

import statistics
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace

from bench.baselines import AsyncioGather
from bench.config import BenchConfig, LatencyModel
from bench.ours import WarmPipeline, bench_plan, pool_options
from bench.scenarios import gemini_options, make_payloads, server_options
from bench.server import ServerProcess
from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.images import ImagePayload
from pipeline.plan import JobPlan
from pipeline.pool import SupervisedPool
from pipeline.runner import WorkerFleet
from pipeline.worker import ImageTask

IMAGES, REPEATS, KS = 60, 5, (1, 5)
Variant = Callable[[int], tuple[float, float]]  # k -> (wall s, median in-worker ms)


def small_plan(options: GeminiOptions) -> JobPlan:
    """The CLI's plan for five workers, each with a smaller CPU share: three fleets of five on two cores."""
    plan = bench_plan(options, 5)
    return replace(plan, worker=plan.worker.model_copy(update={"num_cpus": 0.1}))


def _runner_only(plan: JobPlan, payloads: list[ImagePayload]) -> tuple[WorkerFleet, Variant]:
    fleet = WorkerFleet(plan.backend, plan.worker, 5)  # no progress actor, no limiter
    fleet.wait_ready(fleet.actors, 180)

    def run(k: int) -> tuple[float, float]:
        import time

        job_id = uuid.uuid4().hex[:12]
        tasks = [ImageTask(job_id=job_id, payload=payload) for payload in payloads]
        started = time.perf_counter()
        results = SupervisedPool(fleet, pool_options(plan, k)).run(tasks)
        wall = time.perf_counter() - started
        return wall, statistics.median(r.processing_time for r in results)

    return fleet, run


def _on_fleet(pipeline: WarmPipeline, payloads: list[ImagePayload]) -> Variant:
    def run(k: int) -> tuple[float, float]:
        response = pipeline.run(payloads, k)
        inside = statistics.median(r.processing_time for r in response.results)
        return response.stats.total_processing_time / 1000, inside

    return run


def _asyncio(gather: AsyncioGather, pngs: list[bytes]) -> Variant:
    def run(k: int) -> tuple[float, float]:
        outcome = gather.run(pngs, k)
        return outcome.wall_s, statistics.median(outcome.image_ms)

    return run


def _report(name: str, k: int, samples: list[tuple[float, float]]) -> None:
    per_image = statistics.median(wall for wall, _ in samples) / IMAGES * 1000
    inside = statistics.median(ms for _, ms in samples)
    spread = (max(s[0] for s in samples) - min(s[0] for s in samples)) / statistics.median(
        s[0] for s in samples
    )
    print(f"k={k} {name:<24} {per_image:6.2f} ms/image", end="")
    print(f"  (per image inside: {inside:5.2f} ms, spread {spread:.0%})", flush=True)


def main() -> int:
    from pipeline.session import ray_runtime

    config = BenchConfig(latency=LatencyModel(median_ms=0.0, sigma=0.0))
    payloads = make_payloads(IMAGES)
    with ServerProcess(server_options(config)) as server, ray_runtime():
        options = gemini_options(server.base_url)
        gather = AsyncioGather(options)
        plan = small_plan(options)
        reading = WarmPipeline(plan, 5)
        quiet = WarmPipeline(plan, 5, read_progress=False)
        bare_fleet, runner_only = _runner_only(plan, payloads)
        variants: dict[str, Variant] = {
            "asyncio": _asyncio(gather, [p.data for p in payloads]),
            "runner only": runner_only,
            "run_on_fleet": _on_fleet(quiet, payloads),
            "run_on_fleet + reads": _on_fleet(reading, payloads),
        }
        try:
            for variant in variants.values():  # warm-up: connections, imports
                variant(5)
            for k in KS:
                for name, variant in variants.items():
                    server.reset(server_options(config))
                    _report(name, k, [variant(k) for _ in range(REPEATS)])
        finally:
            gather.close()
            for pipeline in (reading, quiet):
                pipeline.close()
            bare_fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
