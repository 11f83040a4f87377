"""The pipeline's metrics, through ``ray.util.metrics`` (Ray's metrics agent exports them to Prometheus).

One ``PipelineMetrics`` per process, made on first use once Ray is up (Ray
metrics belong to the process that records them); without Ray every call is a
no-op. Prometheus sees each name with Ray's ``ray_`` prefix. Tags stay
low-cardinality: status, error code, quota, token kind, worker state; never a
job id, a source or a client.

| metric | type | tags | meaning |
|---|---|---|---|
| karaoke_images | counter | status, error_code | images finished |
| karaoke_image_latency_ms | histogram | status | one image's processing time |
| karaoke_workers | gauge | state (total, leased, busy, max) | worker actors now; max: fleets' bound |
| karaoke_quota_wait_seconds | counter | priority (interactive, bulk) | time images waited for a slot |
| karaoke_rate_limited | counter | quota | 429s, by the quota that ran out |
| karaoke_tokens | counter | kind (prompt, output, thinking) | tokens billed |
| karaoke_estimated_cost_usd | counter | | estimated cost at the configured prices |
| karaoke_cache_hits | counter | | images answered from the result cache |
| karaoke_queued_images | gauge | | images accepted and not yet finished (Serve) |
| karaoke_jobs | gauge | status | asynchronous jobs by status (Serve) |
| karaoke_batch_api_jobs | gauge | state (pending, running, ...) | Batch API jobs of runs going on |
| karaoke_batch_api_images | gauge | state | images in those jobs, by their job's state |
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.schema import ParseResponse

LATENCY_BOUNDARIES_MS = [50, 100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000]
METRIC_NAMES = (
    "karaoke_images",
    "karaoke_image_latency_ms",
    "karaoke_workers",
    "karaoke_quota_wait_seconds",
    "karaoke_rate_limited",
    "karaoke_tokens",
    "karaoke_estimated_cost_usd",
    "karaoke_cache_hits",
    "karaoke_queued_images",
    "karaoke_jobs",
    "karaoke_batch_api_jobs",
    "karaoke_batch_api_images",
)


class PipelineMetrics:
    """Every metric of the pipeline; thread-safe (runs record from their own threads)."""

    def __init__(self) -> None:
        from ray.util import metrics

        self.images = metrics.Counter(
            "karaoke_images",
            description="images finished, by status and error code",
            tag_keys=("status", "error_code"),
        )
        self.latency = metrics.Histogram(
            "karaoke_image_latency_ms",
            description="time to process one image, ms",
            boundaries=LATENCY_BOUNDARIES_MS,
            tag_keys=("status",),
        )
        self.workers = metrics.Gauge(
            "karaoke_workers",
            description="worker actors: total (now), leased to runs, busy, max (the fleets' bounds)",
            tag_keys=("state",),
        )
        self.quota_wait = metrics.Counter(
            "karaoke_quota_wait_seconds",
            description="seconds images waited for a rate-limit slot, by priority",
            tag_keys=("priority",),
        )
        self.rate_limited = metrics.Counter(
            "karaoke_rate_limited", description="429s, by the quota that ran out", tag_keys=("quota",)
        )
        self.tokens = metrics.Counter("karaoke_tokens", description="tokens billed", tag_keys=("kind",))
        self.cost = metrics.Counter("karaoke_estimated_cost_usd", description="estimated cost, US dollars")
        self.cache_hits = metrics.Counter("karaoke_cache_hits", description="images answered from the cache")
        self.queued = metrics.Gauge(
            "karaoke_queued_images", description="images accepted and not yet finished"
        )
        self.jobs = metrics.Gauge(
            "karaoke_jobs", description="asynchronous jobs by status", tag_keys=("status",)
        )
        self.batch_api_job_gauge = metrics.Gauge(
            "karaoke_batch_api_jobs", description="Gemini Batch API jobs of running runs", tag_keys=("state",)
        )
        self.batch_api_image_gauge = metrics.Gauge(
            "karaoke_batch_api_images", description="images in those jobs, by job state", tag_keys=("state",)
        )
        self._lock = threading.Lock()
        self._workers = {"total": 0, "leased": 0, "busy": 0, "max": 0}
        self._jobs = {"queued": 0, "running": 0}
        self._batch_api: dict[str, tuple[dict[str, int], dict[str, int]]] = {}  # run -> (jobs, images)
        self._batch_api_states: set[str] = set()

    def worker_count(self, state: str, delta: int) -> None:
        with self._lock:
            self._workers[state] = max(0, self._workers[state] + delta)
            value = self._workers[state]
        self.workers.set(value, tags={"state": state})

    def job_count(self, status: str, delta: int) -> None:
        """Asynchronous jobs of this process waiting (queued) or running."""
        with self._lock:
            self._jobs[status] = max(0, self._jobs[status] + delta)
            value = self._jobs[status]
        self.jobs.set(value, tags={"status": status})

    def batch_api_jobs(self, run: str, jobs: dict[str, int], images: dict[str, int]) -> None:
        """One Batch API run's jobs (and their images) by state; empty once the run ended."""
        with self._lock:
            self._batch_api[run] = (jobs, images)
            if not jobs:
                del self._batch_api[run]
            self._batch_api_states.update(jobs)
            totals = self.batch_api_totals()
            states = sorted(self._batch_api_states)
        for state in states:  # every state ever shown: one that emptied goes back to 0
            self.batch_api_job_gauge.set(totals[0].get(state, 0), tags={"state": state})
            self.batch_api_image_gauge.set(totals[1].get(state, 0), tags={"state": state})

    def batch_api_totals(self) -> tuple[dict[str, int], dict[str, int]]:
        """Jobs and images by state over this process's running Batch API runs (what the gauges hold)."""
        jobs: dict[str, int] = {}
        images: dict[str, int] = {}
        for run_jobs, run_images in list(self._batch_api.values()):
            for state, count in run_jobs.items():
                jobs[state] = jobs.get(state, 0) + count
            for state, count in run_images.items():
                images[state] = images.get(state, 0) + count
        return jobs, images

    def response(self, response: ParseResponse) -> None:
        """Count the images, tokens and cost of one finished run."""
        for result in response.results:
            code = result.error.code if result.error is not None else "none"
            self.images.inc(1, tags={"status": result.status, "error_code": code})
            if result.status == "cached":
                self.cache_hits.inc(1)
            elif result.attempts:
                self.latency.observe(result.processing_time, tags={"status": result.status})
        stats = response.stats
        for kind, count in (
            ("prompt", stats.prompt_tokens),
            ("output", stats.output_tokens),
            ("thinking", stats.thinking_tokens),
        ):
            if count:
                self.tokens.inc(count, tags={"kind": kind})
        if stats.estimated_cost:
            self.cost.inc(stats.estimated_cost)


class _Off:
    """Stands in without Ray: every recording is dropped."""

    def __getattr__(self, name: str) -> Any:
        return _Off()

    def __call__(self, *args: object, **kwargs: object) -> _Off:
        return self


_metrics: PipelineMetrics | None = None
_made = threading.Lock()


def metrics() -> PipelineMetrics:
    """This process's metrics (a no-op stand-in when Ray is not up)."""
    global _metrics
    import ray

    if _metrics is not None:
        return _metrics
    if not ray.is_initialized():
        off: Any = _Off()
        return off  # type: ignore[no-any-return]
    with _made:
        if _metrics is None:
            _metrics = PipelineMetrics()
    return _metrics
