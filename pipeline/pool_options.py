"""How one run is sized and supervised (``PoolOptions``) and what a fleet reports as ready.

Kept apart from ``pipeline.runner`` (the fleet itself) so the plan and the options of
every entry point import them without the fleet's machinery.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_WORKERS, MAX_WORKERS = 1, 5
MAX_BATCH_WORKERS = 256


class PoolOptions(BaseModel):
    """How many workers one run uses and how each image is supervised."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: int = Field(default=3, ge=MIN_WORKERS, strict=True, description="worker actors in the pool, 1-5")
    large_pool: bool = Field(
        default=False,
        description=f"allow more than {MAX_WORKERS} workers (batch jobs of a CPU-bound backend on a cluster)",
    )
    image_timeout_s: float = Field(default=30.0, gt=0, description="per-image deadline, seconds")
    max_attempts: int = Field(default=3, ge=1, le=10, description="tries per image when its worker crashes")
    poll_interval_s: float = Field(default=0.25, gt=0, description="how often progress is read")
    startup_timeout_s: float = Field(
        default=60.0, gt=0, description="time a worker may take to load its backend, on top of an image's"
    )

    @model_validator(mode="after")
    def _within_bounds(self) -> PoolOptions:
        limit = MAX_BATCH_WORKERS if self.large_pool else MAX_WORKERS
        if self.workers > limit:
            raise ValueError(f"workers must be from {MIN_WORKERS} to {limit}, got {self.workers}")
        return self


class FleetReadiness(BaseModel):
    """How much of a fleet can take work now: what ``/readyz`` reports."""

    model_config = ConfigDict(frozen=True)
    ready: bool = Field(description="every worker the fleet wants has started")
    workers: int = Field(description="workers that have started and can be leased")
    wanted: int = Field(description="workers the fleet was sized for")
    waiting_for: str | None = Field(default=None, description="what the rest are waiting for, if any")

    def to_wire(self) -> dict[str, object]:
        body: dict[str, object] = {"ready": self.ready, "workers": self.workers, "wanted": self.wanted}
        if self.waiting_for is not None:
            body["waitingFor"] = self.waiting_for
        return body
