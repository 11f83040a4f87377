"""Options of the Serve application, built once by the driver and passed to each replica.

Replicas never read the environment: ``ServeOptions.from_settings`` reads the
process settings where the application is built (the CLI, or ``serve run``)
and the options travel with the deployment, as values a remote node needs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pipeline.autoscale import FleetScaling
from pipeline.backends.base import BackendOptions, LocalOptions, options_for
from pipeline.plan import JobPlan
from pipeline.pool_options import PoolOptions
from pipeline.ratelimit import RateLimitOptions
from pipeline.settings import get_settings
from pipeline.worker import WorkerOptions

MB = 1024 * 1024


class BodyTimeouts(BaseModel):
    """How long a replica waits for a request body: a sender that stalls or trickles gets 408.

    Uvicorn (0.55, under Serve 2.60's proxy) has no body or header read timeout, and Serve's
    ``request_timeout_s`` bounds the whole request (a long sync parse too), so the body's
    deadlines live here, where the body is read. See docs/slow-senders.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    idle_s: float = Field(default=15.0, gt=0, description="longest wait for the next piece of the body")
    min_bytes_per_s: float = Field(
        default=32 * 1024,
        gt=0,
        description="slowest average rate accepted, after the first idle_s (a 20 MB body: about 11 min)",
    )

    def total_s(self, expected_bytes: int) -> float:
        """The whole body's deadline for a body of ``expected_bytes``."""
        return self.idle_s + expected_bytes / self.min_bytes_per_s


class ServeOptions(BaseModel):
    """Limits, pool sizes and paths of one Serve application."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: BackendOptions = Field(default_factory=LocalOptions, description="the backend every worker runs")
    fleet_size: int | None = Field(
        default=None, ge=1, le=5, description="worker actors each replica holds (None: sized from the node)"
    )
    worker_num_cpus: float | None = Field(
        default=None, gt=0, description="CPU share per worker actor (None: from the backend and the node)"
    )
    replica_num_cpus: float = Field(default=0.25, gt=0, description="CPU share of each Serve replica")
    replicas: int = Field(
        default=1, ge=1, le=64, description="replicas the CPUs are shared by (autoscaling: its max_replicas)"
    )
    max_queued_images: int = Field(
        default=200, ge=1, description="images a replica holds (running or waiting) before it answers 503"
    )
    image_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="per-image deadline, seconds; None: the backend's own, at least 60 s (local OCR: 180 s)",
    )
    admin_token: SecretStr | None = Field(default=None, description="bearer token of the admin endpoints")
    data_dir: Path = Field(default=Path(".karaoke"), description="job results and admin settings")
    jobs_uri: str | None = Field(
        default=None,
        description="where job records live, read by every node: a path or an fsspec URI "
        "(s3://bucket/jobs); None: <data dir>/jobs",
    )
    orphan_after_s: float = Field(
        default=10.0, gt=0, description="a job whose replica has been silent this long is marked failed"
    )
    max_body_bytes: int = Field(default=50 * MB, ge=1, description="largest request body accepted (413)")
    body_timeouts: BodyTimeouts = Field(
        default_factory=BodyTimeouts, description="a body that stalls or trickles is refused (408)"
    )
    max_images: int = Field(default=100, ge=1, description="most images in one request (413)")
    max_image_bytes: int = Field(default=10 * MB, ge=1, description="largest single image (413)")
    max_image_pixels: int = Field(default=40_000_000, ge=1, description="decompression-bomb limit")
    rate_limit_per_minute: float = Field(
        default=60.0, ge=0, description="public requests per client per minute (0: no limit)"
    )
    rate_limit_burst: int = Field(default=20, ge=1, description="public requests a client may make at once")
    job_ttl_s: float = Field(default=24 * 3600.0, gt=0, description="how long finished job results are kept")
    budget: RateLimitOptions | None = Field(
        default=None, description="the metered budget the backend draws on (shared by the whole cluster)"
    )
    use_cache: bool = Field(default=True, description="answer repeated Gemini images from the result cache")
    similar_cache: bool = Field(
        default=True, description="the result cache answers near-copies too (KARAOKE_SIMILAR_CACHE)"
    )
    autoscale: bool = Field(
        default=True,
        description="each replica's fleet follows the load, 1 to fleet_size workers (KARAOKE_AUTOSCALE); "
        "false: pinned at fleet_size",
    )
    fleet_idle_s: float = Field(
        default=30.0, ge=0, description="a worker idle this long is released (KARAOKE_FLEET_IDLE_S)"
    )

    @classmethod
    def from_settings(cls, **overrides: Any) -> ServeOptions:
        """Options from the process settings (``KARAOKE_*``), with ``overrides`` on top."""
        settings = get_settings()
        backend = options_for(settings.default_backend())
        # the backend's own deadline follows an image_timeout_s override, as the pool's does
        backend = backend.for_job(
            workers=5, timeout_s=image_deadline_s(backend, overrides.get("image_timeout_s"))
        )
        values: dict[str, Any] = {
            "backend": backend,
            "admin_token": settings.admin_token,
            "data_dir": settings.data_dir.resolve(),
            "max_image_bytes": settings.max_image_bytes,
            "max_image_pixels": settings.max_image_pixels,
            "max_queued_images": settings.max_queued_images,
            "jobs_uri": settings.jobs_uri,
            "rate_limit_per_minute": settings.rate_limit_per_minute,
            "similar_cache": settings.similar_cache,
            "autoscale": settings.autoscale,
            "fleet_idle_s": settings.fleet_idle_s,
        }
        values.update(overrides)
        values.setdefault("budget", values["backend"].rate_limit(settings))
        return cls.model_validate(values)

    def sized_for_cluster(self, free_cpus: float | None = None) -> ServeOptions:
        """These options with the fleet size and worker shares that fit the CPUs Ray reports.

        I/O-bound workers (they wait on an API) take a small fixed share; CPU-bound
        ones (OCR) split what the replicas leave. Explicit values are kept.
        """
        if self.fleet_size is not None and self.worker_num_cpus is not None:
            return self
        free = cluster_free_cpus() if free_cpus is None else free_cpus
        size, share = fleet_shares(
            self.backend.io_bound_cpu_share, free, self.replicas, self.replica_num_cpus
        )
        size = self.fleet_size or size
        share = self.worker_num_cpus or share
        backend = self.backend
        backend = backend.for_cpu_share(share)  # OCR threads match the worker's share of the cores
        return self.model_copy(update={"fleet_size": size, "worker_num_cpus": share, "backend": backend})

    @property
    def image_deadline_s(self) -> float:
        """The per-image deadline the replica's jobs use."""
        return image_deadline_s(self.backend, self.image_timeout_s)

    def plan(self) -> JobPlan:
        """The replica's job plan, as ``plan_job`` builds the CLI's: the backend as sized, the
        pool waiting the backend's grace beyond its deadline, the workers' CPU share, the budget."""
        sized = self.sized_for_cluster()
        assert sized.fleet_size is not None and sized.worker_num_cpus is not None
        deadline = sized.image_deadline_s
        worker = WorkerOptions(
            num_cpus=sized.worker_num_cpus, max_pixels=sized.max_image_pixels, max_bytes=sized.max_image_bytes
        )
        pool = PoolOptions(workers=sized.fleet_size, image_timeout_s=sized.backend.pool_deadline_s(deadline))
        scaling = FleetScaling(min_workers=1, max_workers=sized.fleet_size, idle_s=sized.fleet_idle_s)
        pinned = FleetScaling.pinned(sized.fleet_size)
        return JobPlan(sized.backend, pool, worker, sized.budget, scaling if sized.autoscale else pinned)

    def jobs_location(self) -> str:
        """The jobs location every replica shares (one registry actor per location)."""
        return self.jobs_uri or str(self.data_dir / "jobs")

    @property
    def workers(self) -> int:
        """The fleet size (options not yet sized count the largest fleet)."""
        return self.fleet_size or MAX_FLEET

    def rate_limit(self) -> RateLimitOptions | None:
        """The cluster-wide request budget of a backend that calls a rate-limited API."""
        return self.budget


MAX_FLEET = 5
MIN_IMAGE_DEADLINE_S = 60.0  # a served image waits at least this long; CPU-bound OCR, its backend's own


def image_deadline_s(backend: BackendOptions, timeout_s: float | None) -> float:
    """``timeout_s``, or the backend's default per-image deadline but never under a minute: on a
    busy 2-core machine local OCR took 52 s for one screenshot."""
    return timeout_s if timeout_s is not None else max(MIN_IMAGE_DEADLINE_S, backend.default_timeout_s)


MIN_CPU_BOUND_SHARE = 0.2


def fleet_shares(
    io_share: float | None, free_cpus: float, replicas: int, replica_cpus: float
) -> tuple[int, float]:
    """(workers per replica, CPU share per worker) that fit ``free_cpus`` with every replica placed."""
    budget = max(free_cpus - replicas * replica_cpus, 0.0) / replicas
    # io_share: the backend's io_bound_cpu_share (None: CPU-bound, the workers split the cores)
    if io_share is not None:
        size = max(1, min(MAX_FLEET, int(budget / io_share + 1e-9)))
        return size, _floor_cents(min(io_share, budget / size))
    size = max(1, min(MAX_FLEET, int(budget / MIN_CPU_BOUND_SHARE + 1e-9)))
    return size, _floor_cents(budget / size)


def _floor_cents(value: float) -> float:
    """Rounded down to 0.01 CPU (never 0), so the shares' sum never passes the budget."""
    return max(math.floor(value * 100 + 1e-9) / 100, 0.01)


def cluster_free_cpus() -> float:
    """CPUs Ray reports free now (all of this machine's when Ray is not connected)."""
    import ray

    if not ray.is_initialized():
        return float(os.cpu_count() or 1)
    return float(ray.available_resources().get("CPU", 0.0))
