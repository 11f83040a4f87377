"""The HTTP API over real HTTP: compatible endpoints, validation, limits, auth, settings."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from typing import Any

import httpx
import pytest
from serve_harness import ADMIN_TOKEN, Served, ready_body, served, wait_for  # noqa: F401 - the fixture is used by name

from pipeline.testing.scripted import make_scripted_png

pytestmark = [pytest.mark.ray, pytest.mark.serve]
PARSER = "/api/parser"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def shots(count: int, script: str = "ok") -> list[str]:
    return [data_url(make_scripted_png(script, venue=f"Bar {index}")) for index in range(count)]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (a decompression bomb), with no real pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.fixture(scope="module")
def url(served: Served) -> str:  # noqa: F811 - pytest injects the imported fixture
    return served.url("main")


def post(url: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}{PARSER}/{path}", json=body, timeout=60, **kwargs)


def test_health_readiness_and_docs(url: str) -> None:
    wait_for(lambda: httpx.get(f"{url}/healthz").json() == {"status": "ok"}, 60, "/healthz ok")
    ready = ready_body(url)  # waits for the condition: workers start one by one on a loaded machine
    assert ready["workers"] == ready["wanted"] == 5 and "waitingFor" not in ready
    assert "swagger" in httpx.get(f"{url}/docs").text.lower()
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    endpoints = ("analyze-screenshots", "analyze-screenshots-parallel", "analyze-admin-screenshots", "jobs")
    for endpoint in endpoints:
        assert f"{PARSER}/{endpoint}" in paths


def test_the_old_clients_exact_request_gets_a_parse_response(url: str) -> None:
    body = {
        "screenshots": shots(3),
        "vendor": "Karaoke by Max",
        "description": "fall schedule",
        "url": "https://example.com/post/1",
        "isAdminUpload": False,
        "maxConcurrentWorkers": 3,
    }
    response = post(url, "analyze-screenshots-parallel", body)
    assert response.status_code == 200, response.text
    parsed = response.json()
    assert parsed["success"] is True
    assert [r["imageIndex"] for r in parsed["results"]] == [0, 1, 2]
    assert sorted(show["venueName"] for show in parsed["data"]["shows"]) == ["Bar 0", "Bar 1", "Bar 2"]
    assert parsed["stats"]["maxConcurrentWorkers"] == 3
    assert "requiresApproval" not in parsed


def test_the_sequential_endpoint_uses_one_worker(url: str) -> None:
    parsed = post(url, "analyze-screenshots", {"screenshots": shots(3), "maxConcurrentWorkers": 3}).json()
    assert parsed["stats"]["maxConcurrentWorkers"] == 1
    assert parsed["stats"]["successfulImages"] == 3


def test_bad_images_fail_alone_and_the_others_are_processed(url: str) -> None:
    good = make_scripted_png(venue="Good Bar")
    body = {
        "screenshots": [
            data_url(good),
            data_url(b"this is not an image at all"),
            data_url(good[: len(good) // 2]),
            data_url(png_claiming(20_000, 20_000)),
            "%%% not base64 %%%",
        ]
    }
    parsed = post(url, "analyze-screenshots-parallel", body).json()
    codes = [r["error"]["code"] if r["error"] else None for r in parsed["results"]]
    assert codes == [None, "not_an_image", "corrupt_image", "too_many_pixels", "not_an_image"]
    assert parsed["success"] is True and parsed["data"]["shows"][0]["venueName"] == "Good Bar"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "screenshots", "is required"),
        ({"screenshots": []}, "screenshots", "must not be empty"),
        ({"screenshots": "abc"}, "screenshots", "must be an array"),
        ({"screenshots": ["aGk=", 42]}, "screenshots[1]", "must be a string"),
        ({"screenshots": ["aGk="], "maxConcurrentWorkers": "3"}, "maxConcurrentWorkers", "not a string"),
        ({"screenshots": ["aGk="], "maxConcurrentWorkers": 0}, "maxConcurrentWorkers", "greater than"),
        ({"screenshots": ["aGk="], "maxConcurrentWorkers": 6}, "maxConcurrentWorkers", "less than or equal"),
        ({"screenshots": ["aGk="], "maxConcurrentWorkers": 2.5}, "maxConcurrentWorkers", "integer"),
        ({"screenshots": ["aGk="], "maxConcurrentWorkers": True}, "maxConcurrentWorkers", "integer"),
        ([1, 2], "body", "JSON object"),
    ],
)
def test_client_mistakes_are_400_naming_the_field(url: str, body: Any, field: str, words: str) -> None:
    response = post(url, "analyze-screenshots-parallel", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["field"] == field and words in error["message"] and error["statusCode"] == 400


def test_malformed_json_and_unknown_content_types_are_refused(url: str) -> None:
    target = f"{url}{PARSER}/analyze-screenshots"
    broken = httpx.post(target, content=b'{"screenshots": [', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "malformed JSON" in broken.json()["message"]
    assert httpx.post(target, content=b"hello", headers={"Content-Type": "text/plain"}).status_code == 415


def test_limits_are_413(url: str) -> None:
    too_many = post(url, "analyze-screenshots-parallel", {"screenshots": ["aGk="] * 21})
    assert too_many.status_code == 413 and "at most 20" in too_many.json()["message"]
    big_image = base64.b64encode(b"\x89PNG" + b"\0" * (1024 * 1024 + 10)).decode()
    too_big = post(url, "analyze-screenshots-parallel", {"screenshots": ["aGk=", big_image]})
    assert too_big.status_code == 413 and too_big.json()["field"] == "screenshots[1]"
    huge_body = b'{"screenshots": ["' + b"A" * (4 * 1024 * 1024) + b'"]}'
    over = httpx.post(
        f"{url}{PARSER}/analyze-screenshots", content=huge_body, headers={"Content-Type": "application/json"}
    )
    assert over.status_code == 413 and "over the limit" in over.json()["message"]


def test_multipart_uploads_keep_safe_display_names(url: str) -> None:
    files = [
        ("files", ("first.png", make_scripted_png(venue="Alpha"), "image/png")),
        ("files", ("../../etc/passwd", make_scripted_png(venue="Beta"), "image/png")),
    ]
    response = httpx.post(
        f"{url}{PARSER}/analyze-screenshots-parallel", files=files, data={"maxConcurrentWorkers": "2"}
    )
    assert response.status_code == 200, response.text
    parsed = response.json()
    assert [r["source"] for r in parsed["results"]] == ["first.png", "passwd"]
    assert parsed["stats"]["maxConcurrentWorkers"] == 2
    bad = httpx.post(f"{url}{PARSER}/analyze-screenshots", files=files, data={"maxConcurrentWorkers": "9"})
    assert bad.status_code == 400 and bad.json()["field"] == "maxConcurrentWorkers"
    none = httpx.post(f"{url}{PARSER}/analyze-screenshots", files={"other": ("a.txt", b"x")})
    assert none.status_code == 400 and none.json()["field"] == "files"


def test_malformed_small_and_over_1_mb_multipart_bodies_give_the_usual_answers(url: str) -> None:
    endpoint = f"{url}{PARSER}/analyze-screenshots"
    broken = httpx.post(endpoint, content=b"not multipart", headers={"Content-Type": "multipart/form-data"})
    assert broken.status_code == 400 and broken.json()["statusCode"] == 400, broken.text
    assert "multipart" in broken.json()["message"]
    # over the 1 MB at which bodies go to the decoding process: same answers from there
    files = [
        ("files", ("big.png", make_scripted_png(venue="Gamma"), "image/png")),
        *[("files", (f"noise{n}.bin", os.urandom(700 * 1024), "application/octet-stream")) for n in (1, 2)],
    ]  # each under this server's 1 MB per image
    response = httpx.post(endpoint, files=files, timeout=60)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["source"] for r in results] == ["big.png", "noise1.bin", "noise2.bin"]
    assert [r["status"] == "ok" for r in results] == [True, False, False], "noise is no image"


def test_admin_endpoints_need_the_bearer_token(url: str) -> None:
    body = {"screenshots": shots(2)}
    missing = post(url, "analyze-admin-screenshots-parallel", body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = post(url, "analyze-admin-screenshots", body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = post(url, "analyze-admin-screenshots-parallel", body, headers=ADMIN)
    assert ok.status_code == 200
    parsed = ok.json()
    assert parsed["requiresApproval"] is True and parsed["timestamp"] and parsed["stats"]["totalImages"] == 2


def test_without_a_configured_token_admin_is_refused_with_a_how_to(served: Served) -> None:  # noqa: F811
    limited = served.url("limited")
    response = post(limited, "analyze-admin-screenshots", {"screenshots": shots(1)}, headers=ADMIN)
    assert response.status_code == 403
    assert "KARAOKE_ADMIN_TOKEN" in response.json()["message"]


def test_public_endpoints_are_rate_limited_per_client(served: Served) -> None:  # noqa: F811
    limited = served.url("limited")
    statuses = [post(limited, "analyze-screenshots", {"screenshots": shots(1)}).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    refused = post(limited, "analyze-screenshots", {"screenshots": shots(1)})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_settings_are_admin_only_validated_and_applied(url: str) -> None:
    target = f"{url}{PARSER}/settings"
    assert httpx.get(target).status_code == 401
    assert httpx.get(target, headers=ADMIN).json() == {"defaultWorkers": 3, "mode": "parallel"}
    assert httpx.put(target, json={"defaultWorkers": "3"}, headers=ADMIN).status_code == 400
    assert httpx.put(target, json={"defaultWorkers": 7}, headers=ADMIN).status_code == 400
    assert httpx.put(target, json={"workers": 2}, headers=ADMIN).status_code == 400
    try:
        changed = httpx.put(target, json={"defaultWorkers": 2}, headers=ADMIN)
        assert changed.json() == {"defaultWorkers": 2, "mode": "parallel"}
        parsed = post(url, "analyze-screenshots-parallel", {"screenshots": shots(4)}).json()
        assert parsed["stats"]["maxConcurrentWorkers"] == 2
        httpx.put(target, json={"mode": "sequential"}, headers=ADMIN)
        body = {"screenshots": shots(3), "maxConcurrentWorkers": 3}
        assert post(url, "analyze-screenshots-parallel", body).json()["stats"]["maxConcurrentWorkers"] == 1
    finally:
        httpx.put(target, json={"defaultWorkers": 3, "mode": "parallel"}, headers=ADMIN)
