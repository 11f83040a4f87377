"""The sizing rule of a fleet that follows the load (pure: no Ray, no clock)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.autoscale import FleetLoad, FleetScaling, ScalingPolicy
from pipeline.plan import fleet_scaling
from pipeline.settings import Settings

POLICY = ScalingPolicy(FleetScaling(min_workers=1, max_workers=5, idle_s=10.0))


def load(workers: int = 1, leased: int = 0, queued: int = 0, **more: float | int | None) -> FleetLoad:
    return FleetLoad(workers=workers, leased=leased, queued=queued, **more)  # type: ignore[arg-type]


def test_an_idle_fleet_wants_its_minimum() -> None:
    assert POLICY.target(load(workers=4)) == 1


def test_waiting_images_grow_the_fleet_up_to_its_max() -> None:
    assert POLICY.target(load(workers=1, leased=1, queued=2)) == 3
    assert POLICY.target(load(workers=1, leased=1, queued=40)) == 5


def test_a_metered_budget_caps_the_fleet_at_rate_times_latency() -> None:
    # 60 RPM = 1 request/s, 2.5 s per request: three workers keep the budget busy, a fourth waits
    budgeted = load(workers=1, leased=1, queued=40, requests_per_s=1.0, latency_s=2.5)
    assert POLICY.useful_size(budgeted) == 3
    assert POLICY.target(budgeted) == 3
    # a generous budget leaves the cap to the bounds; a tiny one still keeps one worker
    assert POLICY.target(load(leased=1, queued=40, requests_per_s=100.0, latency_s=2.0)) == 5
    assert POLICY.target(load(leased=1, queued=40, requests_per_s=0.01, latency_s=0.5)) == 1


def test_a_metered_fleet_grows_once_a_request_was_timed_an_unmetered_one_at_once() -> None:
    assert POLICY.useful_size(load(requests_per_s=1.0)) is None
    assert POLICY.target(load(workers=2, leased=2, queued=9, requests_per_s=1.0)) == 2
    assert POLICY.target(load(workers=4, requests_per_s=1.0)) == 1, "it still shrinks"
    assert POLICY.useful_size(load(latency_s=3.0)) is None
    assert POLICY.target(load(leased=1, queued=9, latency_s=3.0)) == 5


def test_growth_stops_at_the_cpus_ray_can_still_place() -> None:
    assert POLICY.target(load(workers=2, leased=2, queued=9, cpu_room=1)) == 3
    assert POLICY.target(load(workers=2, leased=2, queued=9, cpu_room=0)) == 2
    assert POLICY.target(load(workers=2, leased=2, queued=9, cpu_room=-3)) == 2, "never below its size"
    assert POLICY.target(load(workers=3, cpu_room=0)) == 1, "the CPUs bound growth, not shrinking"


def test_only_workers_idle_past_the_threshold_are_released_down_to_the_target() -> None:
    idle_fleet = load(workers=5, leased=1)
    assert POLICY.to_release(idle_fleet, [0.0, 3.0, 9.9, 12.0]) == 1  # only one idle for 10 s
    assert POLICY.to_release(idle_fleet, [11.0, 12.0, 30.0, 60.0]) == 4  # down to the one leased
    assert POLICY.to_release(load(workers=3, leased=1, queued=2), [50.0]) == 0, "busy: keep them"
    assert POLICY.to_release(load(workers=1), [100.0]) == 0, "never below the minimum"


def test_a_pinned_fleet_never_changes() -> None:
    pinned = ScalingPolicy(FleetScaling.pinned(3))
    assert pinned.scaling.is_pinned
    assert pinned.target(load(workers=3)) == 3
    assert pinned.target(load(workers=3, leased=3, queued=50)) == 3
    assert pinned.to_release(load(workers=3), [1e6, 1e6, 1e6]) == 0


def test_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match="above max_workers"):
        FleetScaling(min_workers=4, max_workers=2)
    with pytest.raises(ValidationError):
        FleetScaling(min_workers=0)


def test_the_plan_autoscales_by_default_and_one_setting_pins_it() -> None:
    assert fleet_scaling(5, Settings(fleet_idle_s=7)) == FleetScaling(min_workers=1, max_workers=5, idle_s=7)
    assert fleet_scaling(5, Settings(autoscale=False)) == FleetScaling.pinned(5)
