"""One parse job: intake, the pool on Ray, the in-process fallback, stats."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.backends.base import ScriptedOptions
from pipeline.images import ImagePayload, read_bytes
from pipeline.parse import intake, run_parse
from pipeline.runner import PoolOptions
from pipeline.session import ray_runtime
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import WorkerOptions


def payloads(*scripts: str) -> list[ImagePayload]:
    return [
        read_bytes(make_scripted_png(script, venue=f"Bar {index}"), index, max_bytes=10**6)
        for index, script in enumerate(scripts)
    ]


def test_intake_keeps_a_failed_result_in_place_of_each_unusable_input(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(make_scripted_png())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    items = intake([good, "!!not base64!!", empty, make_scripted_png()], max_bytes=10**6)
    assert [type(item).__name__ for item in items] == [
        "ImagePayload",
        "ImageResult",
        "ImageResult",
        "ImagePayload",
    ]
    assert [getattr(item, "source", None) for item in items] == [str(good), "image-1", str(empty), "image-3"]


def test_a_ray_that_cannot_start_degrades_to_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ray

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no raylet for you")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with caplog.at_level(logging.WARNING), ray_runtime() as use_ray:
        assert use_ray is False
    assert "no raylet for you" in caplog.text
    assert "one image at a time" in caplog.text


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_progress_counts_match_the_results_at_the_end() -> None:
    seen = []
    response = run_parse(
        payloads("ok", "fail:blocked", "ok", "crash", "ok"),
        ScriptedOptions(delay_s=0.05),
        pool_options=PoolOptions(workers=3, max_attempts=2),
        worker_options=WorkerOptions(num_cpus=0.25),
        on_progress=seen.append,
    )
    final = seen[-1]
    assert final.status == "done"
    assert final.processed_images == final.total_images == 5
    assert (final.succeeded_images, final.failed_images) == (3, 2)
    assert final.retries == 1
    assert response.stats.retries == 1
    assert (response.stats.successful_images, response.stats.failed_images) == (3, 2)
    assert max(s.processed_images for s in seen) == 5


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_parse_merges_shows_from_every_successful_image() -> None:
    response = run_parse(
        payloads("ok", "ok", "fail:timeout", "ok"),
        ScriptedOptions(),
        pool_options=PoolOptions(workers=2),
        worker_options=WorkerOptions(num_cpus=0.25),
    )
    assert response.success
    assert [s.venue_name for s in response.data.shows] == ["Bar 0", "Bar 1", "Bar 3"]
    assert response.data.shows[0].sources == ["image-0"]
    assert response.stats.speedup > 0
    took = {r.worker for r in response.results if r.worker is not None}
    assert response.stats.max_concurrent_workers == len(took) <= 2, "the workers that took images"


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_a_warm_fleet_smaller_than_asked_reports_the_workers_that_ran() -> None:
    """`up` keeps 2 warm workers; a later parse asks for 5: it runs on those 2 and says so."""
    import ray

    response = run_parse(
        payloads(*["ok"] * 8),
        ScriptedOptions(delay_s=0.05),
        pool_options=PoolOptions(workers=5),
        worker_options=WorkerOptions(num_cpus=0.25),
        warm=("test-warm-small", 2),
    )
    try:
        assert response.stats.failed_images == 0
        took = {r.worker for r in response.results}
        assert took <= {"test-warm-small-1", "test-warm-small-2"}
        assert response.stats.max_concurrent_workers == len(took) <= 2
    finally:
        for number in (1, 2):
            ray.kill(ray.get_actor(f"test-warm-small-{number}", namespace="karaoke-pipeline"))


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_in_process_fallback_gives_the_same_response() -> None:
    items = payloads("ok", "fail:blocked", "ok")
    kwargs = {"pool_options": PoolOptions(workers=2), "worker_options": WorkerOptions(num_cpus=0.25)}
    on_ray = run_parse(items, ScriptedOptions(), **kwargs)  # type: ignore[arg-type]
    local = run_parse(items, ScriptedOptions(), use_ray=False, **kwargs)  # type: ignore[arg-type]
    assert local.data == on_ray.data
    assert [r.status for r in local.results] == [r.status for r in on_ray.results]
    assert local.stats.max_concurrent_workers == 1
