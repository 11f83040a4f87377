"""Request bodies in the replica: small ones stay in memory, big ones are spooled to a file that
the decoding process reads, and no spool file outlives its request."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.types import Message

from pipeline.images import ImagePayload
from pipeline.testing.scripted import make_scripted_png
from serve import bodies
from serve.errors import ApiError
from serve.options import BodyTimeouts, ServeOptions

CHUNK = 64 * 1024


def streamed(body: bytes, content_type: str = "application/json", declare: bool = True) -> Request:
    """A Starlette request whose body arrives in 64 KB chunks, as Serve hands it to the replica."""
    chunks = [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)] or [b""]
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    headers = [(b"content-type", content_type.encode())]
    if declare:
        headers.append((b"content-length", str(len(body)).encode()))
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def spool_files() -> list[Path]:
    return sorted(Path(bodies._spool_dir()).iterdir())


def test_a_small_body_stays_in_memory_and_a_big_one_is_spooled_whole() -> None:
    small = os.urandom(1000)
    body = asyncio.run(bodies._read_spooled(streamed(small), 10**8))
    assert body.path is None and body.data == small

    big = os.urandom(3 * 1024 * 1024 + 123)  # past the 1 MB threshold, not a multiple of a chunk
    body = asyncio.run(bodies._read_spooled(streamed(big, declare=False), 10**8))
    assert body.path is not None and body.data == b""
    assert body.path.read_bytes() == big
    body.discard()
    assert not body.path.exists()


def test_a_body_over_the_limit_is_refused_midway_and_leaves_no_spool_file() -> None:
    before = spool_files()
    with pytest.raises(ApiError) as refused:  # no content-length: found out while reading
        asyncio.run(
            bodies._read_spooled(streamed(os.urandom(4 * 1024 * 1024), declare=False), 3 * 1024 * 1024)
        )
    assert refused.value.status == 413
    assert spool_files() == before

    with pytest.raises(ApiError) as declared:  # a declared length over the limit: before reading
        asyncio.run(bodies._read_spooled(streamed(os.urandom(4 * 1024 * 1024)), 3 * 1024 * 1024))
    assert declared.value.status == 413


def test_a_spooled_json_body_is_decoded_in_the_decoder_process_and_its_file_removed() -> None:
    image = make_scripted_png(venue="Spooled Bar")
    noise = os.urandom(2 * 1024 * 1024)  # not an image: the worker will say so, intake passes it on
    document = {
        "screenshots": [
            "data:image/png;base64," + base64.b64encode(image).decode(),
            base64.b64encode(noise).decode(),
        ],
        "vendor": "Spool Co",
    }
    before = spool_files()
    parsed = asyncio.run(bodies.read_parse_input(streamed(json.dumps(document).encode()), ServeOptions()))
    assert parsed.fields.vendor == "Spool Co"
    first, second = parsed.items
    assert isinstance(first, ImagePayload) and first.data == image
    assert isinstance(second, ImagePayload) and second.data == noise and second.index == 1
    assert spool_files() == before, "the spool file went with its request"


def test_a_malformed_spooled_body_is_a_400_and_leaves_no_spool_file() -> None:
    before = spool_files()
    with pytest.raises(ApiError) as refused:
        asyncio.run(bodies.read_parse_input(streamed(b"{" * (2 * 1024 * 1024)), ServeOptions()))
    assert refused.value.status == 400
    assert spool_files() == before


def stalling(first: bytes, declared: int, every_s: float | None = None) -> Request:
    """A request that declares ``declared`` bytes, sends ``first`` and then nothing more (or, with
    ``every_s``, one more byte at that pace): the slow sender of issue 24."""

    sent = [False]

    async def receive() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": first, "more_body": True}
        if every_s is None:
            await asyncio.Event().wait()  # never set: the sender went quiet
        await asyncio.sleep(every_s or 0)  # the trickle's own pace, not a wait for a result
        return {"type": "http.request", "body": b"x", "more_body": True}

    headers = [(b"content-type", b"application/json"), (b"content-length", str(declared).encode())]
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


@pytest.mark.parametrize(
    ("request_of", "expected"),
    [
        (lambda: stalling(b"x" * 20, 1024 * 1024), "(20 of 1048576 bytes read"),
        (lambda: stalling(b"{", 40, every_s=0.1), "of 40 bytes read"),
    ],
    ids=["stalled", "trickling"],
)
def test_a_body_that_stalls_or_trickles_is_a_408_that_closes_the_connection(
    request_of: Callable[[], Request], expected: str
) -> None:
    options = ServeOptions(body_timeouts=BodyTimeouts(idle_s=0.3, min_bytes_per_s=100))

    async def read() -> None:
        await asyncio.wait_for(bodies.read_parse_input(request_of(), options), timeout=30)

    with pytest.raises(ApiError) as caught:
        asyncio.run(read())
    assert caught.value.status == 408 and caught.value.headers == {"Connection": "close"}
    assert expected in caught.value.message
