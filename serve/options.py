"""Options of the Serve application, built once by the driver and passed to each replica.

Replicas never read the environment: ``ServeOptions.from_settings`` reads the
process settings where the application is built (the CLI, or ``serve run``)
and the options travel with the deployment, as values a remote node needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pipeline.backends.base import BackendOptions, LocalOptions, options_for
from pipeline.ratelimit import RateLimitOptions
from pipeline.settings import get_settings

MB = 1024 * 1024


class ServeOptions(BaseModel):
    """Limits, pool sizes and paths of one Serve application."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: BackendOptions = Field(default_factory=LocalOptions, description="the backend every worker runs")
    fleet_size: int = Field(default=5, ge=1, le=5, description="worker actors each replica holds")
    worker_num_cpus: float = Field(default=0.4, gt=0, description="CPU share per worker actor")
    replica_num_cpus: float = Field(default=0.25, gt=0, description="CPU share of each Serve replica")
    image_timeout_s: float = Field(default=60.0, gt=0, description="per-image deadline, seconds")
    admin_token: SecretStr | None = Field(default=None, description="bearer token of the admin endpoints")
    data_dir: Path = Field(default=Path(".karaoke"), description="job results and admin settings")
    max_body_bytes: int = Field(default=50 * MB, ge=1, description="largest request body accepted (413)")
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

    @classmethod
    def from_settings(cls, **overrides: Any) -> ServeOptions:
        """Options from the process settings (``KARAOKE_*``), with ``overrides`` on top."""
        settings = get_settings()
        backend = options_for(settings.default_backend())
        backend = backend.for_job(workers=5, timeout_s=cls.model_fields["image_timeout_s"].default)
        values: dict[str, Any] = {
            "backend": backend,
            "admin_token": settings.admin_token,
            "data_dir": settings.data_dir.resolve(),
            "max_image_bytes": settings.max_image_bytes,
            "max_image_pixels": settings.max_image_pixels,
        }
        values.update(overrides)
        values.setdefault("budget", values["backend"].rate_limit(settings))
        return cls.model_validate(values)

    def rate_limit(self) -> RateLimitOptions | None:
        """The cluster-wide request budget of a backend that calls a rate-limited API."""
        return self.budget
