"""The fake Gemini server over real HTTP: envelope, both field spellings, errors, faults, no key in logs."""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr, ValidationError

from pipeline.schema import ParsedSchedule
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer, FaultRates
from pipeline.testing.fake_gemini_options import FaultPlan, add_fake_gemini_arguments, options_from_args
from pipeline.testing.fake_gemini_wire import echo_schedule

KEY = "fake-test-key-9f8e7d6c5b4a"
MODEL = "gemini-2.5-flash"
ECHO = FakeGeminiOptions(extract="echo")


def _png_base64(urlsafe: bool = False) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="PNG")
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(buffer.getvalue()).decode()


def camel_body(json_mode: bool = True) -> dict[str, Any]:
    parts = [{"inlineData": {"mimeType": "image/png", "data": _png_base64()}}, {"text": "list the shows"}]
    config = {"responseMimeType": "application/json"} if json_mode else {}
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def snake_body() -> dict[str, Any]:
    parts = [{"inline_data": {"mime_type": "image/png", "data": _png_base64(urlsafe=True)}}, {"text": "x"}]
    return {"contents": [{"parts": parts}], "generation_config": {"response_mime_type": "application/json"}}


def post(
    server: FakeGeminiServer,
    body: Any,
    *,
    key: str | None = KEY,
    query_key: str | None = None,
    path: str | None = None,
) -> httpx.Response:
    """POST a body; the key goes in the header (as the SDK sends it) or in ``?key=``."""
    headers = {"x-goog-api-key": key} if key else {}
    params = {"key": query_key} if query_key else {}
    url = server.base_url + (path or f"/v1beta/models/{MODEL}:generateContent")
    return httpx.post(url, json=body, headers=headers, params=params, timeout=10)


def test_success_has_googles_envelope(server: FakeGeminiServer) -> None:
    reply = post(server, camel_body())
    assert reply.status_code == 200
    body = reply.json()
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    schedule = ParsedSchedule.model_validate_json(candidate["content"]["parts"][0]["text"])
    assert schedule == echo_schedule()
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"] > 0
    assert body["modelVersion"] == MODEL


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_snake_case_fields_and_urlsafe_base64_are_accepted(server: FakeGeminiServer, version: str) -> None:
    reply = post(server, snake_body(), path=f"/{version}/models/{MODEL}:generateContent")
    assert reply.status_code == 200
    text = reply.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text)["shows"]  # plain JSON: JSON mode was asked for in snake_case
    record = server.requests[-1]
    assert (record.model, record.mime_type, record.status) == (MODEL, "image/png", 200)


def test_without_json_mode_the_reply_is_fenced(server: FakeGeminiServer) -> None:
    text = post(server, camel_body(json_mode=False)).json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text.startswith("```json\n") and text.endswith("\n```")


def test_a_missing_key_is_refused_like_google(server: FakeGeminiServer) -> None:
    reply = post(server, camel_body(), key=None)
    assert reply.status_code == 403
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"


def test_a_wrong_key_gets_api_key_invalid(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"api_key": SecretStr("the-right-key")}))
    reply = post(server, camel_body(), key="a-wrong-key")
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert post(server, camel_body(), key="the-right-key").status_code == 200


def test_rpm_limit_answers_429_with_retry_info(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"rpm": 2, "rate_window_s": 30}))
    statuses = [post(server, camel_body()).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    error = post(server, camel_body()).json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    by_type = {detail["@type"].rsplit("/", 1)[-1]: detail for detail in error["details"]}
    assert re.fullmatch(r"\d+s", by_type["google.rpc.RetryInfo"]["retryDelay"])
    assert 29 <= int(by_type["google.rpc.RetryInfo"]["retryDelay"][:-1]) <= 30
    assert by_type["google.rpc.QuotaFailure"]["violations"][0]["quotaValue"] == "2"


def test_injected_429_advertises_the_configured_delay(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("http_429",), "retry_delay_s": 7}))
    details = post(server, camel_body()).json()["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details
    assert post(server, camel_body()).status_code == 200  # the script is used up


@pytest.mark.parametrize(
    ("fault", "status"), [("http_500", 500), ("http_503", 503), ("http_403", 403), ("blocked", 200)]
)
def test_scripted_faults(server: FakeGeminiServer, fault: str, status: int) -> None:
    server.configure(ECHO.model_copy(update={"script": (fault,)}))
    reply = post(server, camel_body())
    assert reply.status_code == status
    if fault == "blocked":
        assert reply.json()["promptFeedback"]["blockReason"] and "candidates" not in reply.json()
    assert server.requests[-1].fault == fault


def test_max_tokens_reply_is_cut_off(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("max_tokens",), "truncate_fraction": 0.5}))
    candidate = post(server, camel_body()).json()["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS"
    with pytest.raises(json.JSONDecodeError):
        json.loads(candidate["content"]["parts"][0]["text"])


def test_bad_requests_are_400_and_unknown_paths_404(server: FakeGeminiServer) -> None:
    bad_image = camel_body()
    bad_image["contents"][0]["parts"][0]["inlineData"]["data"] = "not base64!!"
    assert post(server, bad_image).status_code == 400
    assert post(server, {"contents": "nope"}).status_code == 400
    assert post(server, camel_body(), path=f"/v9/models/{MODEL}:generateContent").status_code == 404
    assert post(server, camel_body(), path="/v1beta/models").json()["error"]["status"] == "NOT_FOUND"


def test_latency_is_added_before_answering(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"latency_median_ms": 150}))
    post(server, camel_body())
    assert server.requests[-1].duration_ms >= 150


def test_a_client_that_gives_up_is_logged_as_499(server: FakeGeminiServer) -> None:
    server.configure(ECHO.model_copy(update={"script": ("slow",), "slow_delay_s": 3}))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.base_url}/v1beta/models/{MODEL}:generateContent",
            json=camel_body(),
            headers={"x-goog-api-key": KEY},
            timeout=0.3,
        )
    record = _wait_for_records(server, 1)[-1]
    assert (record.status, record.fault) == (499, "slow")
    assert record.duration_ms < 3000  # it stopped waiting when the client hung up, before the 3 s delay


def _wait_for_records(server: FakeGeminiServer, count: int) -> list[Any]:
    import time

    deadline = time.monotonic() + 3
    while len(server.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.requests


def test_the_key_is_never_logged_or_recorded(
    server: FakeGeminiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    post(server, camel_body())
    post(server, camel_body(), key=None, query_key=KEY)  # Google also takes ?key=
    server.configure(ECHO.model_copy(update={"script": ("http_403",)}))
    post(server, camel_body())
    assert [r.status for r in server.requests] == [200, 200, 403]
    server_logs = [r.getMessage() for r in caplog.records if r.name.startswith(("pipeline", "uvicorn"))]
    assert any("generateContent 200" in line for line in server_logs)
    assert all(KEY not in line for line in server_logs)
    assert KEY not in repr(server.requests)


def test_fault_plan_follows_the_script_then_seeded_rates() -> None:
    options = FakeGeminiOptions(script=("http_503", "ok"), faults=FaultRates(http_500=0.3, slow=0.2), seed=7)
    plan_a, plan_b = FaultPlan(options), FaultPlan(options)
    run_a = [plan_a.next_fault() for _ in range(200)]
    run_b = [plan_b.next_fault() for _ in range(200)]
    assert run_a[:2] == ["http_503", "ok"]
    assert run_a == run_b
    assert 0.2 < run_a[2:].count("http_500") / 198 < 0.4
    assert set(run_a[2:]) == {"ok", "http_500", "slow"}


def test_fault_rates_may_not_add_up_to_more_than_one() -> None:
    with pytest.raises(ValidationError):
        FaultRates(http_503=0.7, http_500=0.5)


def test_command_line_options() -> None:
    parser = argparse.ArgumentParser()
    add_fake_gemini_arguments(parser)
    args = parser.parse_args(
        ["--extract", "echo", "--rpm", "30", "--latency-ms", "800", "--fail-rate", "http_503=0.1"]
    )
    options = options_from_args(args)
    assert (options.extract, options.rpm, options.latency_median_ms) == ("echo", 30, 800)
    assert options.faults.http_503 == 0.1
    with pytest.raises(SystemExit):
        parser.parse_args(["--fail-rate", "gremlins=0.1"])
