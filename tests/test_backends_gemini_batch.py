"""pipeline.backends.gemini.batch: names, error codes and the request it builds; a live check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions, generation_config
from pipeline.backends.gemini.batch import GeminiBatchClient, build_request, display_name_for, job_error
from pipeline.images import open_image, read_bytes, read_path
from pipeline.testing.scripted import make_scripted_png

SCREENSHOTS = Path(__file__).resolve().parents[1] / "examples" / "screenshots"


def test_a_display_name_depends_on_the_content_and_the_request_shaping_only() -> None:
    keys = ["b" * 64, "a" * 64]
    assert display_name_for(keys, "id-1") == display_name_for(list(reversed(keys)), "id-1")
    assert display_name_for(keys, "id-1") != display_name_for(keys, "id-2")
    assert display_name_for(keys, "id-1") != display_name_for(keys[:1], "id-1")
    assert len(display_name_for(keys, "id-1")) <= 128


@pytest.mark.parametrize(
    ("code", "expected", "retryable"),
    [(400, "upstream_error", False), (429, "rate_limited", True), (503, "upstream_error", True),
     (500, "upstream_error", True), (403, "auth_error", False), (None, "upstream_error", True)],
)  # fmt: skip
def test_a_per_request_error_gets_the_code_it_gets_online(
    code: int | None, expected: str, retryable: bool
) -> None:
    from google.genai import types

    error = job_error(types.JobError(code=code, message="boom"))
    assert error.code == expected and error.retryable == retryable


def test_the_request_is_the_online_request() -> None:
    options = GeminiOptions(api_key=SecretStr("k"))
    payload = read_bytes(make_scripted_png(), 0, max_bytes=10**6)
    request = build_request(options, open_image(payload, max_pixels=10**7), None, payload.sha256)
    online = generation_config(options, 20.0)
    config = request.inlined.config
    assert config.response_schema == online.response_schema
    assert config.response_mime_type == online.response_mime_type == "application/json"
    assert config.temperature == online.temperature and request.inlined.metadata == {"key": payload.sha256}
    assert request.inlined.contents[0].inline_data.data == payload.data  # the original bytes


@pytest.mark.live_gemini
@pytest.mark.skipif(
    not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")),
    reason="needs GEMINI_API_KEY or GOOGLE_API_KEY",
)
def test_live_batch_create_get_and_cancel() -> None:
    from pipeline.settings import Settings

    options = GeminiOptions.from_settings(Settings())
    client = GeminiBatchClient(options)
    payload = read_path(SCREENSHOTS / "004-social.png", 0, max_bytes=10**7)
    request = build_request(options, open_image(payload, max_pixels=10**8), None, payload.sha256)
    job = client.create([request], display_name_for([request.key], "live-test"), inline=True)
    try:
        assert client.get(job.name).state in ("pending", "running", "succeeded")
        assert client.find(job.display_name) is not None
    finally:
        client.cancel(job.name)
