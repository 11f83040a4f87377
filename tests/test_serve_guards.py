"""The Serve layer's pure parts: admin auth, rate limiting, error messages, metrics."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from serve.errors import ApiError, field_path, from_validation
from serve.guards import RateLimiter, require_admin
from serve.models import AnalyzeBody


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_admin_needs_a_configured_token_and_the_exact_bearer() -> None:
    with pytest.raises(ApiError) as refused:
        require_admin("Bearer anything", None)
    assert refused.value.status == 403 and "KARAOKE_ADMIN_TOKEN" in refused.value.message
    token = SecretStr("s3cret")
    for header in (None, "", "Basic s3cret", "Bearer", "Bearer s3cre", "Bearer s3cret2"):
        with pytest.raises(ApiError) as denied:
            require_admin(header, token)
        assert denied.value.status == 401 and "WWW-Authenticate" in denied.value.headers
    require_admin("Bearer s3cret", token)
    require_admin("bearer  s3cret ", token)


def test_rate_limit_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=30, burst=2, clock=clock)
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(ApiError) as limited:
        limiter.check("a")
    assert limited.value.status == 429 and limited.value.headers["Retry-After"] == "2"
    limiter.check("b")  # per client
    clock.now += 2.0
    limiter.check("a")


def test_no_rate_limit_when_the_rate_is_zero() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    for _ in range(100):
        limiter.check("a")


def test_validation_errors_name_the_field_and_index() -> None:
    assert field_path(("screenshots", 2)) == "screenshots[2]"
    with pytest.raises(ValidationError) as invalid:
        AnalyzeBody.model_validate({"screenshots": ["a", 7], "maxConcurrentWorkers": "3"})
    error = from_validation(invalid.value)
    assert error.status == 400 and error.field == "maxConcurrentWorkers"
    assert "screenshots[1]: must be a string, got 7 (int)" in error.message
    assert "maxConcurrentWorkers: must be an integer" in error.message


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_metrics_count_a_response_and_busy_workers() -> None:
    from pipeline.parse import build_response
    from pipeline.schema import ImageError, ImageResult, ParsedSchedule
    from serve.metrics import ServeMetrics

    failed = ImageResult(
        image_index=1,
        source="b",
        success=False,
        status="failed",
        attempts=2,
        error=ImageError(code="timeout", message="slow"),
    )
    ok = ImageResult(image_index=0, source="a", success=True, status="ok", attempts=1, processing_time=12.0)
    metrics = ServeMetrics()
    metrics.run_started(3)
    assert metrics._busy == 3
    metrics.run_finished(3, build_response([ok, failed], ParsedSchedule(), 3, 20.0))
    assert metrics._busy == 0
    metrics.refused(429)


def test_admission_refuses_past_the_bound_with_retry_after_and_frees_on_release() -> None:
    from serve.guards import Admission

    admission = Admission(max_images=5, workers=2)
    admission.admit(4)
    with pytest.raises(ApiError) as full:
        admission.admit(2)
    assert full.value.status == 503 and int(full.value.headers["Retry-After"]) >= 1
    admission.admit(1)
    admission.release(5)
    admission.admit(50)  # larger than the bound, but nothing else is held: admitted, not refused forever
    assert admission.held == 50


@pytest.mark.parametrize(
    ("kind", "cpus", "replicas", "expected"),
    [
        ("gemini", 2.0, 1, (5, 0.15)),  # I/O-bound: a small share, five fit beside the replica
        ("local", 2.0, 1, (5, 0.35)),  # CPU-bound: the cores the replica leaves, split
        ("local", 2.0, 2, (3, 0.25)),
        ("gemini", 0.5, 1, (1, 0.15)),  # a nearly full node still gets one worker that fits
        ("local", 0.3, 1, (1, 0.05)),
    ],
)
def test_the_fleet_fits_the_cpus_ray_reports(
    kind: str, cpus: float, replicas: int, expected: tuple[int, float]
) -> None:
    from pipeline.backends.base import OPTIONS_BY_KIND
    from serve.options import fleet_shares

    size, share = fleet_shares(OPTIONS_BY_KIND[kind].io_bound_cpu_share, cpus, replicas, replica_cpus=0.25)
    assert (size, share) == expected
    assert replicas * (0.25 + size * share) <= cpus + 1e-9 or size == 1
