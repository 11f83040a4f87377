"""One plan for every entry point: the CLI, batch and `up` (plan_job), Serve and the bench agree."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bench.ours import STARTUP_TIMEOUT_S, bench_plan
from pipeline.autoscale import FleetScaling
from pipeline.backends.base import LocalOptions
from pipeline.backends.gemini.backend import DEADLINE_GRACE_S, GeminiOptions
from pipeline.plan import plan_job
from pipeline.settings import Settings, get_settings
from serve.options import ServeOptions

KEY = SecretStr("plan-test-key-0123456789")


@pytest.mark.parametrize("timeout_s", [30.0, 60.0, 90.0])
def test_serve_plans_a_gemini_job_as_the_cli_does(timeout_s: float) -> None:
    settings = Settings(gemini_api_key=KEY)
    backend = GeminiOptions(api_key=KEY)
    cli = plan_job("gemini", workers=5, timeout_s=timeout_s, settings=settings, backend=backend)
    serve = ServeOptions(
        backend=backend.for_job(workers=5, timeout_s=timeout_s),
        image_timeout_s=timeout_s,
        budget=backend.rate_limit(settings),
        fleet_size=5,
    ).plan()
    assert serve.backend == cli.backend
    assert serve.pool.image_timeout_s == cli.pool.image_timeout_s == timeout_s + DEADLINE_GRACE_S
    assert serve.worker.num_cpus == cli.worker.num_cpus == GeminiOptions.io_bound_cpu_share
    assert serve.rate_limit == cli.rate_limit
    assert serve.worker.max_pixels == cli.worker.max_pixels


@pytest.mark.parametrize("workers", [1, 3, 5])
def test_the_bench_runs_on_the_plan_the_cli_gets(workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench differs only where it says so: its start-up allowance, no budget, a pinned fleet."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY.get_secret_value())
    get_settings.cache_clear()
    try:
        for backend in (GeminiOptions(api_key=KEY), LocalOptions()):
            cli = plan_job(
                backend.kind, workers=workers, timeout_s=60.0, settings=get_settings(), backend=backend
            )
            bench = bench_plan(backend, workers)
            assert (bench.backend, bench.worker) == (cli.backend, cli.worker)
            assert bench.pool == cli.pool.model_copy(update={"startup_timeout_s": STARTUP_TIMEOUT_S})
            assert bench.rate_limit is None and bench.scaling is None
    finally:
        get_settings.cache_clear()


def test_a_served_deadline_override_moves_the_backends_deadline_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY.get_secret_value())
    monkeypatch.setenv("KARAOKE_BACKEND", "gemini")
    get_settings.cache_clear()
    try:
        options = ServeOptions.from_settings(image_timeout_s=90.0)
    finally:
        get_settings.cache_clear()
    assert isinstance(options.backend, GeminiOptions)
    assert options.backend.image_deadline_s == 90.0, "not only the pool's"
    assert options.plan().pool.image_timeout_s == 90.0 + DEADLINE_GRACE_S


def test_a_warm_fleet_is_named_by_its_plan() -> None:
    settings = Settings(gemini_api_key=KEY)
    one = plan_job("gemini", workers=3, timeout_s=None, settings=settings, backend=GeminiOptions(api_key=KEY))
    same = plan_job(
        "gemini", workers=5, timeout_s=None, settings=settings, backend=GeminiOptions(api_key=KEY)
    )
    other = plan_job(
        "gemini", workers=3, timeout_s=None, settings=settings, backend=GeminiOptions(api_key=KEY, model="x")
    )
    assert one.warm_fleet_name() == same.warm_fleet_name(), "worker counts do not make other actors"
    assert one.warm_fleet_name() != other.warm_fleet_name()


def test_serve_and_the_cli_scale_their_fleets_alike_and_one_setting_pins_both() -> None:
    settings = Settings(gemini_api_key=KEY, fleet_idle_s=12)
    backend = GeminiOptions(api_key=KEY)
    cli = plan_job("gemini", workers=4, timeout_s=None, settings=settings, backend=backend)
    serve = ServeOptions(backend=backend, fleet_size=4, fleet_idle_s=12).plan()
    assert cli.scaling == serve.scaling == FleetScaling(min_workers=1, max_workers=4, idle_s=12)
    assert cli.pool.workers == 4, "the per-run limit stays what was asked"
    pinned = plan_job(
        "gemini", workers=4, timeout_s=None, settings=Settings(autoscale=False), backend=backend
    )
    assert pinned.scaling == ServeOptions(backend=backend, fleet_size=4, autoscale=False).plan().scaling
    assert pinned.scaling == FleetScaling.pinned(4)


def test_serve_config_autoscales_replicas_with_rays_own_config() -> None:
    """serve/config.yaml's autoscaling_config is valid for Ray Serve 2.60, and its max_replicas is
    the replicas the app shares the CPUs by (a replica added under load still fits)."""
    from pathlib import Path

    import yaml
    from ray.serve.config import AutoscalingConfig

    config = yaml.safe_load((Path(__file__).parents[1] / "serve" / "config.yaml").read_text())
    app = config["applications"][0]
    deployment = app["deployments"][0]
    autoscaling = AutoscalingConfig(**deployment["autoscaling_config"])
    assert autoscaling.min_replicas >= 1 and autoscaling.max_replicas == app["args"]["replicas"]
    assert autoscaling.target_ongoing_requests is not None
    assert autoscaling.target_ongoing_requests <= deployment["max_ongoing_requests"]
    assert "num_replicas" not in deployment, "replicas come from the autoscaler"
