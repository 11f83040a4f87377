"""Counters and histograms through ``ray.util.metrics``, exported by Ray's Prometheus endpoint.

Created inside the replica (Ray metrics belong to the process that records them).
Tags stay low-cardinality: status, error code, route; never a job id or a client.
"""

from __future__ import annotations

import threading

from pipeline.schema import ParseResponse


class ServeMetrics:
    """The API's metrics; also the job runner's ``RunObserver``."""

    def __init__(self) -> None:
        from ray.util import metrics

        # images, latency, tokens, cost and workers are the pipeline's own (pipeline.metrics)
        self.retries = metrics.Counter("karaoke_image_retries", description="images retried after a crash")
        self.rejected = metrics.Counter(
            "karaoke_http_rejected",
            description="requests refused, by HTTP status (429: rate limited)",
            tag_keys=("status",),
        )
        self.busy_workers = metrics.Gauge("karaoke_active_workers", description="workers leased to runs now")
        self._busy = 0
        self._lock = threading.Lock()

    def run_started(self, workers: int) -> None:
        self._add_busy(workers)

    def run_finished(self, workers: int, response: ParseResponse | None) -> None:
        self._add_busy(-workers)
        if response is not None:
            self.observe(response)

    def observe(self, response: ParseResponse) -> None:
        """Count the retries of one finished run (its images are counted by pipeline.metrics)."""
        if response.stats.retries:
            self.retries.inc(response.stats.retries)

    def refused(self, status: int) -> None:
        self.rejected.inc(1, tags={"status": str(status)})

    def _add_busy(self, delta: int) -> None:
        with self._lock:
            self._busy = max(self._busy + delta, 0)
            self.busy_workers.set(self._busy)
