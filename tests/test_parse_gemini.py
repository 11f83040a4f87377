"""The pipeline with the Gemini backend: real SDK, real HTTP, the fake server, a real Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_budget import audit_budget

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.budget_actor import get_rate_limiter
from pipeline.cache import ResultCache
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import run_parse
from pipeline.ratelimit import RateLimitOptions
from pipeline.runner import PoolOptions
from pipeline.schema import ParseResponse
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, FaultRates
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "screenshots"
KEY = "test-key-do-not-log-0123456789"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(FakeGeminiOptions(extract="echo")) as server:
        yield server


def gemini(fake: FakeGeminiServer, **overrides: object) -> GeminiOptions:
    values: dict[str, object] = {
        "api_key": KEY,
        "base_url": fake.base_url,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.2,
        "image_deadline_s": 20,
        **overrides,
    }
    return GeminiOptions.model_validate(values)


def images(count: int) -> list[ImagePayload]:
    # different venues so every image has its own sha256
    return [read_bytes(make_scripted_png(venue=f"Bar {n}"), n, max_bytes=10**6) for n in range(count)]


def parse(fake: FakeGeminiServer, count: int, workers: int, **kwargs: object) -> ParseResponse:
    return run_parse(
        images(count),
        gemini(fake),
        pool_options=PoolOptions(workers=workers, image_timeout_s=30),
        worker_options=WorkerOptions(num_cpus=0.2),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_503_storm_fails_its_images_and_leaves_the_others_alone(fake: FakeGeminiServer) -> None:
    # every request 503 until the storm passes: the first two images use up 4 attempts each
    fake.configure(FakeGeminiOptions(extract="echo", faults=FaultRates(http_503=1.0)))
    fake.clear_requests()
    storm = parse(fake, 2, workers=2)
    for result in storm.results:
        assert result.error is not None and result.error.code == "upstream_error"
        assert result.attempts == 4 and "gave up after 4 attempts" in result.error.message
    assert [r.status for r in fake.requests] == [503] * 8 and storm.stats.retries == 6
    fake.configure(FakeGeminiOptions(extract="echo"))
    assert parse(fake, 3, workers=2).stats.failed_images == 0


def test_four_503s_cost_four_retries_and_lose_nothing(fake: FakeGeminiServer) -> None:
    # one worker: which image meets which 503 depends on the backoffs drawn, the totals do not
    fake.configure(FakeGeminiOptions(extract="echo", script=("http_503",) * 4))
    fake.clear_requests()
    response = parse(fake, 4, workers=1)
    assert [r.status for r in response.results] == ["ok"] * 4
    assert sum(r.attempts for r in response.results) == len(fake.requests) == 8
    assert sorted(r.status for r in fake.requests) == [200] * 4 + [503] * 4
    assert response.stats.retries == 4


def test_the_shared_rpm_limit_holds_across_five_workers(fake: FakeGeminiServer) -> None:
    rpm, window = 8, 2.0
    fake.configure(FakeGeminiOptions(extract="echo", rpm=rpm, rate_window_s=window, latency_median_ms=30))
    fake.clear_requests()
    limits = RateLimitOptions(model="rpm-test", rpm=rpm, window_s=window, margin_s=0.5)
    response = parse(fake, 24, workers=5, rate_limit=limits)
    assert response.stats.failed_images == 0
    audit_budget(limits, fake.requests)
    # 24 requests at 8 per 2 s cannot arrive within less than two windows (how close to it they
    # come depends on the machine: bench --only-rate-limit measures it)
    arrivals = sorted(r.time for r in fake.requests)
    assert arrivals[-1] - arrivals[0] >= 2 * window


def test_429s_lower_the_workers_in_flight_then_successes_raise_them(fake: FakeGeminiServer) -> None:
    fake.configure(
        FakeGeminiOptions(extract="echo", script=("http_429",) * 3, retry_delay_s=0.1, latency_median_ms=300)
    )
    fake.clear_requests()
    limits = RateLimitOptions(model="aimd-test", rpm=6000, recovery_successes=4)
    response = parse(fake, 30, workers=5, rate_limit=limits)
    assert response.stats.failed_images == 0
    stats = get_rate_limiter_stats(limits)
    assert stats.rate_limited == 3
    assert stats.pressure == 0, "the cap climbed back after a run of successes"
    # read at the server, not from sampled progress: after the 429s, requests overlapped again
    last_429 = max(r.time for r in fake.requests if r.status == 429)
    later = [(r.time, r.time + r.duration_ms / 1000) for r in fake.requests if r.time > last_429]
    assert most_at_once(later) >= 2


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most (start, end) intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def get_rate_limiter_stats(limits: RateLimitOptions):  # type: ignore[no-untyped-def]
    import ray

    return ray.get(get_rate_limiter(limits).snapshot.remote())


def test_a_second_run_is_served_from_the_cache(fake: FakeGeminiServer, tmp_path: Path) -> None:
    fake.configure(FakeGeminiOptions(extract="echo"))
    fake.clear_requests()
    cache = ResultCache(tmp_path / "cache.sqlite3")
    first = parse(fake, 3, workers=2, cache=cache)
    assert [r.status for r in first.results] == ["ok"] * 3
    assert len(fake.requests) == 3 and len(cache) == 3
    second = parse(fake, 3, workers=2, cache=cache)
    assert [r.status for r in second.results] == ["cached"] * 3
    assert len(fake.requests) == 3, "no request reached the server"
    assert second.data == first.data
    assert second.stats.cached_images == 3


@pytest.mark.ocr
def test_cli_parses_the_samples_through_the_fake_server_and_then_the_cache(tmp_path: Path) -> None:
    with FakeGeminiServer(FakeGeminiOptions(extract="ocr", ocr_threads=2)) as server:
        env = {
            **os.environ,
            "GEMINI_API_KEY": KEY,
            "KARAOKE_GEMINI_BASE_URL": server.base_url,
            "KARAOKE_DATA_DIR": str(tmp_path / "data"),
        }
        samples = [str(SAMPLES / name) for name in ("001-lines.png", "002-table.png", "008-trap.png")]
        command = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "parse",
            *samples,
            "--backend",
            "gemini",
            "--no-progress",
        ]
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert first.returncode == 0, first.stderr
        assert KEY not in first.stdout + first.stderr
        response = ParseResponse.model_validate_json(first.stdout)
        assert [r.status for r in response.results] == ["ok"] * 3
        assert {r.mime_type for r in server.requests} == {"image/png"}
        assert any(show.venue_name for show in response.data.shows)
        assert response.results[2].data.shows == [], "the trap image has no karaoke"
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert [r.status for r in ParseResponse.model_validate_json(second.stdout).results] == ["cached"] * 3
        assert len(server.requests) == 3
