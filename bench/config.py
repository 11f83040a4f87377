"""What one benchmark run measures: sizes, worker counts, repetitions, latency, limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "examples" / "screenshots"
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_KEY = "bench-key-not-a-secret"


class LatencyModel(BaseModel):
    """The fake server's latency: log-normal per request, seeded so runs repeat."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    median_ms: float = Field(default=300.0, ge=0, description="median latency of one request")
    sigma: float = Field(default=0.5, ge=0, le=3, description="log-normal spread")
    seed: int = Field(default=7, description="seed of the draws; every measured run starts from it")


class RateLimitScenario(BaseModel):
    """Scenario 2: an RPM limit at the server and the same limit in our limiter.

    The default is the free tier's 10 requests per minute with time scaled 3x
    (10 per 20 s), so a run of five windows takes under two minutes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    rpm: int = Field(default=10, ge=1, description="requests allowed per window, at the server and by us")
    window_s: float = Field(default=20.0, gt=0, description="the rate window, seconds (short: quick runs)")
    images: int = Field(default=50, ge=1, description="images per run (several windows' worth)")
    workers: int = Field(default=5, ge=1, le=5, description="concurrency of every contender")


class OcrScenario(BaseModel):
    """Scenario 3: the local OCR backend on the sample screenshots."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workers: tuple[int, ...] = Field(default=(1, 2), description="worker counts to measure")
    images: int = Field(default=12, ge=1, description="how many of the sample screenshots to use")


class BenchConfig(BaseModel):
    """Every knob of one benchmark run; ``quick()`` is the CI smoke-test variant."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sizes: tuple[int, ...] = Field(default=(40, 400), description="images per run")
    workers: tuple[int, ...] = Field(default=(1, 2, 3, 4, 5), description="k for sizes up to large_from")
    large_from: int = Field(default=200, ge=1, description="sizes from this on use large_workers")
    large_workers: tuple[int, ...] = Field(
        default=(3, 5), description="k for large sizes (the sequential pipeline always runs as well)"
    )
    repeats: int = Field(default=3, ge=1, description="repetitions; tables show medians")
    latency: LatencyModel = Field(default_factory=LatencyModel)
    cold_workers: int = Field(
        default=5, ge=1, le=5, description="k of the extra run_parse run that starts its own actors"
    )
    rate_limit: RateLimitScenario | None = Field(default_factory=RateLimitScenario)
    ocr: OcrScenario | None = Field(default_factory=OcrScenario)
    out_dir: Path = Field(default=RESULTS_DIR, description="where the table, JSON and chart go")
    quick: bool = Field(default=False, description="the smoke-test variant")

    @classmethod
    def quick_variant(cls, out_dir: Path | None = None) -> BenchConfig:
        """A run of well under two minutes that exercises every scenario once."""
        return cls(
            sizes=(12,),
            workers=(1, 5),
            repeats=1,
            rate_limit=RateLimitScenario(rpm=8, window_s=2.0, images=16),
            ocr=OcrScenario(workers=(2,), images=2),
            out_dir=out_dir or RESULTS_DIR / "quick",
            quick=True,
        )

    def workers_for(self, size: int) -> tuple[int, ...]:
        """The k values every contender runs at for ``size`` images."""
        return self.large_workers if size >= self.large_from else self.workers
