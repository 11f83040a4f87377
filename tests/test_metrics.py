"""Metrics that a Prometheus scrape reads: Ray's metrics agent on a known port, a real HTTP scrape."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.metrics import METRIC_NAMES

pytestmark = [pytest.mark.ray, pytest.mark.slow]

DRIVER = Path(__file__).resolve().parent / "drivers" / "metrics_driver.py"
ROOT = DRIVER.parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


OURS = ("status", "error_code", "quota", "kind", "state")


def key(**labels: str) -> str:
    return ",".join(sorted(f'{name}="{value}"' for name, value in labels.items()))


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of every sample of ``ray_<name>`` in a Prometheus text page."""
    found: dict[str, float] = {}
    for match in re.finditer(rf"^ray_{name}(?:\{{(.*?)\}})? (\S+)$", text, re.MULTILINE):
        labels = ",".join(sorted(part for part in (match[1] or "").split(",") if part.split("=")[0] in OURS))
        found[labels] = found.get(labels, 0.0) + float(match[2])
    return found


def scrape_until(port: int, ready: callable, deadline_s: float = 90.0) -> str:  # type: ignore[valid-type]
    deadline = time.monotonic() + deadline_s
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if ready(text):
                return text
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    return text


def test_a_scrape_finds_each_metric_with_the_values_the_jobs_imply() -> None:
    port = free_port()
    driver = subprocess.Popen(
        [sys.executable, str(DRIVER), str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "READY"
        expected = [n for n in METRIC_NAMES if n not in ("karaoke_queued_images", "karaoke_jobs")]
        text = scrape_until(port, lambda page: all(f"ray_{name}" in page for name in expected))
        for name in expected:
            assert f"ray_{name}" in text, f"{name} is not exported"
        images = samples(text, "karaoke_images_total") or samples(text, "karaoke_images")
        assert images.get(key(status="ok", error_code="none")) == 6.0, images  # 3 scripted + 3 gemini
        assert images.get(key(status="failed", error_code="blocked")) == 1.0, images
        assert images.get(key(status="cached", error_code="none")) == 3.0, images
        assert (
            sum(
                samples(text, "karaoke_cache_hits_total").values()
                or samples(text, "karaoke_cache_hits").values()
            )
            == 3.0
        )
        rate_limited = samples(text, "karaoke_rate_limited_total") or samples(text, "karaoke_rate_limited")
        assert list(rate_limited.values()) == [1.0] and "PerMinute" in next(iter(rate_limited))
        tokens = samples(text, "karaoke_tokens_total") or samples(text, "karaoke_tokens")
        assert tokens.get('kind="prompt"', 0) > 0 and tokens.get('kind="output"', 0) > 0
        cost = samples(text, "karaoke_estimated_cost_usd_total") or samples(
            text, "karaoke_estimated_cost_usd"
        )
        assert sum(cost.values()) > 0
        waited = samples(text, "karaoke_quota_wait_seconds_total") or samples(
            text, "karaoke_quota_wait_seconds"
        )
        assert sum(waited.values()) > 0, "3 images at 2 per 2 s waited for a slot"
        latency = samples(text, "karaoke_image_latency_ms_count")
        assert latency.get('status="ok"') == 6.0, latency
        workers = samples(text, "karaoke_workers")
        assert set(workers) >= {'state="total"', 'state="leased"', 'state="busy"', 'state="max"'}
        assert workers['state="busy"'] == 0.0, "every run gave its workers back"
        batch_api = samples(text, "karaoke_batch_api_jobs")
        assert set(batch_api) >= {'state="pending"', 'state="succeeded"'}, batch_api
        assert set(batch_api.values()) == {0.0}, "the ended Batch API run left the gauges"
        assert workers['state="total"'] == workers['state="max"'] == 0.0, "closed fleets count for nothing"
    finally:
        if driver.stdin is not None:
            driver.stdin.close()
        driver.wait(timeout=60)
