"""The Gemini backend with the real google-genai SDK over real HTTP to the fake server."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiBackend, GeminiOptions, encode_image, make_client
from pipeline.backends.gemini.errors import server_retry_delay
from pipeline.errors import BackendError, ConfigError
from pipeline.images import read_bytes
from pipeline.ratelimit import RequestBudget
from pipeline.schema import ExtractContext, ImageResult
from pipeline.sequential import send_until_done
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, FaultRates
from pipeline.testing.scripted import make_scripted_png
from pipeline.worker import ImageProcessor, ImageTask, WorkerOptions

KEY = "AIzaTEST-never-in-logs-0123456789"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "examples" / "screenshots"
ECHO = FakeGeminiOptions(extract="echo")


def options(server: FakeGeminiServer, **overrides: Any) -> GeminiOptions:
    """Options on the fake server with quick backoff; keyword overrides go to GeminiOptions."""
    values: dict[str, Any] = {"api_key": SecretStr(KEY), "base_url": server.base_url, "backoff_base_s": 0.02}
    return GeminiOptions(**{**values, **overrides})


def gemini(server: FakeGeminiServer, **overrides: Any) -> GeminiBackend:
    return GeminiBackend(options(server, **overrides))


def send(server: FakeGeminiServer, budget: RequestBudget | None = None, **overrides: Any) -> ImageResult:
    """One image through the in-process send path: slots, one request per attempt, the policy."""
    backend = options(server, **overrides)
    processor = ImageProcessor(backend, WorkerOptions(), "test")
    payload = read_bytes(make_scripted_png(venue="Send Path"), 0, max_bytes=10**6)
    return send_until_done(processor, ImageTask(job_id="t", payload=payload), backend.retry_policy(), budget)


def blank(size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.new("RGB", size, "white")


def failure(backend: GeminiBackend, image: Image.Image | None = None) -> BackendError:
    with pytest.raises(BackendError) as caught:
        backend.extract(image or blank())
    return caught.value


@pytest.mark.ocr
def test_reads_a_real_screenshot(server: FakeGeminiServer) -> None:
    server.configure(FakeGeminiOptions(extract="ocr"))
    truth = json.loads((SCREENSHOTS / "truth.json").read_text())["004-social.png"]
    with Image.open(SCREENSHOTS / "004-social.png") as image:
        schedule = gemini(server).extract(image, ExtractContext(vendor="Sing It Co")).schedule
    assert {show.venue_name for show in schedule.shows} == {s["venueName"] for s in truth["shows"]}
    assert all(show.day and show.start_time for show in schedule.shows)
    assert [(r.mime_type, r.status) for r in server.requests] == [("image/png", 200)]


def test_sends_the_images_real_type(server: FakeGeminiServer) -> None:
    backend = gemini(server)
    buffer = io.BytesIO()
    blank().save(buffer, format="JPEG")
    with Image.open(buffer) as jpeg:
        backend.extract(jpeg)
    backend.extract(blank())  # decoded pixels with no source type go as PNG
    assert [r.mime_type for r in server.requests] == ["image/jpeg", "image/png"]


def test_large_images_are_downscaled_before_sending() -> None:
    data, mime_type = encode_image(blank((6000, 1500)), max_side_px=3000)
    with Image.open(io.BytesIO(data)) as sent:
        assert (sent.size, mime_type) == ((3000, 750), "image/png")
    webp = blank((4000, 4000))
    webp.info["mime_type"] = "image/webp"  # how a caller can pass on the sniffed type
    data, mime_type = encode_image(webp, max_side_px=3000)
    with Image.open(io.BytesIO(data)) as sent:
        assert (sent.size, sent.format, mime_type) == ((3000, 3000), "WEBP", "image/webp")


def test_one_client_for_the_backends_lifetime(server: FakeGeminiServer) -> None:
    built: list[GeminiOptions] = []

    def factory(options: GeminiOptions) -> Any:
        built.append(options)
        return make_client(options)

    backend = GeminiBackend(GeminiOptions(api_key=SecretStr(KEY), base_url=server.base_url), factory)
    for _ in range(3):
        assert len(backend.extract(blank()).schedule.shows) == 3
    assert len(built) == 1 and len(server.requests) == 3


def test_a_429_is_one_request_that_names_its_quota_and_the_servers_delay(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("http_429",), "retry_delay_s": 2.0, "rpm": 10}))
    error = failure(gemini(server))
    assert (error.code, error.retryable, error.retry_after) == ("rate_limited", True, 2.0)
    assert (error.quota_scope, error.quota_limit) == ("minute", 10)
    assert error.quota == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    assert len(server.requests) == 1, "the backend never retries on its own"


def test_a_paid_429_without_a_stated_limit_names_no_limit(server: FakeGeminiServer) -> None:
    update = {"script": ("http_429",), "quota_tier": "paid", "quota_states_limit": False}
    server.configure(ECHO.model_copy(update=update))
    error = failure(gemini(server))
    assert error.quota == "GenerateRequestsPerMinutePerProjectPerModel" and error.quota_limit is None


def test_the_send_path_waits_at_least_the_servers_retry_delay(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("http_429",), "retry_delay_s": 1.0}))
    result = send(server)
    first, second = server.requests
    assert (first.status, second.status, result.attempts, result.success) == (429, 200, 2, True)
    assert second.time - first.time >= 1.0  # our own backoff (base 0.02 s) alone would be far shorter


def test_a_503_storm_exhausts_the_retries(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"faults": FaultRates(http_503=1.0)}))
    result = send(server, max_retries=3)
    assert result.error is not None and (result.error.code, result.attempts) == ("upstream_error", 4)
    assert "4 attempts" in result.error.message and "503" in result.error.message
    assert [r.status for r in server.requests] == [503] * 4


def test_a_reply_slower_than_the_attempt_timeout_is_a_timeout(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"faults": FaultRates(slow=1.0), "slow_delay_s": 5}))
    started = time.monotonic()
    error = failure(gemini(server, attempt_timeout_s=0.6))
    assert (error.code, error.retryable) == ("timeout", True)
    assert time.monotonic() - started < 5.0  # gave up before the slow reply would have come


def test_fenced_json_is_read(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("fenced_json",)}))
    assert len(gemini(server).extract(blank()).schedule.shows) == 3


def test_the_answer_carries_the_tokens_its_request_was_billed_for(server: FakeGeminiServer) -> None:
    server.configure(ECHO)
    answer = gemini(server).extract(blank())
    assert answer.usage is not None and answer.usage.prompt_tokens > 0 and answer.usage.output_tokens > 0
    result = send(server)  # the worker puts the answer's usage on the image's result
    assert result.success and result.usage is not None and result.usage.prompt_tokens > 0


def test_truncated_json_keeps_the_complete_shows(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("max_tokens",), "truncate_fraction": 0.7}))
    shows = gemini(server).extract(blank()).schedule.shows
    assert 1 <= len(shows) < 3 and len(server.requests) == 1


def test_truncated_before_any_show_is_bad_model_output(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("max_tokens",), "truncate_fraction": 0.05}))
    assert failure(gemini(server)).code == "bad_model_output"


def test_malformed_json_is_bad_model_output_without_retry(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"faults": FaultRates(malformed_json=1.0)}))
    error = failure(gemini(server))
    assert (error.code, error.retryable, len(server.requests)) == ("bad_model_output", False, 1)


def test_a_blocked_prompt_is_blocked(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"faults": FaultRates(blocked=1.0)}))
    assert failure(gemini(server)).code == "blocked"


def test_403_is_an_auth_error_with_exactly_one_request(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"faults": FaultRates(http_403=1.0)}))
    result = send(server)
    assert result.error is not None and (result.error.code, result.attempts) == ("auth_error", 1)
    assert [r.status for r in server.requests] == [403]


def test_a_wrong_key_is_an_auth_error(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"api_key": SecretStr("the-real-key")}))
    assert failure(gemini(server)).code == "auth_error"
    assert [r.status for r in server.requests] == [400]


def test_no_api_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        GeminiBackend(GeminiOptions())


def test_the_key_never_leaks(server: FakeGeminiServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = gemini(server, max_retries=1)
    schedule = backend.extract(blank()).schedule
    server.configure(ECHO.model_copy(update={"faults": FaultRates(http_503=1.0)}))
    storm = failure(backend)
    retried = send(server, max_retries=1)
    server.configure(ECHO.model_copy(update={"faults": FaultRates(http_403=1.0)}))
    denied = failure(backend)
    assert "503" in caplog.text  # the retry was logged...
    assert KEY not in caplog.text  # ...without the key, by us, the SDK or httpx
    for error in (storm, denied):
        assert KEY not in f"{error} {error.message} {error!r} {error.__cause__!r}"
    assert KEY not in retried.to_wire_json()
    options = backend.options
    for shown in (
        repr(options),
        str(options),
        options.model_dump_json(),
        repr(backend),
        schedule.to_wire_json(),
    ):
        assert KEY not in shown


def test_importing_the_backend_does_not_import_the_sdk() -> None:
    code = (
        "import sys, pipeline.backends.gemini.backend, pipeline.testing.fake_gemini_options; "
        "assert not {'google.genai', 'starlette'} & set(sys.modules); "
        "assert 'pipeline.backends.base' not in sys.modules  # so base may import GeminiOptions"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_server_retry_delay_reads_retry_info_and_retry_after() -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
    with_info = SimpleNamespace(details={"error": {"details": [retry_info]}}, response=None)
    with_header = SimpleNamespace(details={}, response=SimpleNamespace(headers={"retry-after": "3"}))
    assert server_retry_delay(with_info) == 1.5
    assert server_retry_delay(with_header) == 3.0
    assert server_retry_delay(SimpleNamespace(details=None, response=None)) is None


@pytest.mark.live_gemini
@pytest.mark.skipif(
    not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")),
    reason="needs GEMINI_API_KEY or GOOGLE_API_KEY",
)
def test_live_gemini_reads_a_screenshot() -> None:
    from pipeline.clean import venue_key
    from pipeline.settings import Settings

    backend = GeminiBackend(GeminiOptions.from_settings(Settings()))
    with Image.open(SCREENSHOTS / "004-social.png") as image:
        schedule = backend.extract(image).schedule
    truth = json.loads((SCREENSHOTS / "truth.json").read_text())["004-social.png"]
    expected = {venue_key(show["venueName"]) for show in truth["shows"]}
    assert expected & {venue_key(show.venue_name) for show in schedule.shows}


def test_in_process_a_used_up_day_ends_the_image_and_the_next_sends_nothing(server: FakeGeminiServer) -> None:
    from pipeline.ratelimit import RateLimitOptions

    server.configure(ECHO.model_copy(update={"faults": FaultRates(http_429_day=1.0)}))
    budget = RequestBudget(RateLimitOptions(model="day-in-process"))
    first, second = send(server, budget), send(server, budget)
    for result in (first, second):
        assert result.error is not None and result.error.code == "rate_limited"
        assert "resets at" in result.error.message and "PerDay" in (result.error.quota or "")
    assert (first.attempts, second.attempts, len(server.requests)) == (1, 0, 1)
