"""Reading parse requests: JSON or multipart, size limits first, then strict validation.

Limits are checked before work is done: the body is read with a cap (413),
the image count before validation (413), one image's size at intake (413).
Per-image problems found later (not an image, truncated, a decompression
bomb) become that image's failed result, not a refused request.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.types import Message

from pipeline.images import ImagePayload
from pipeline.parse import ImageInput, intake
from pipeline.schema import ImageResult
from serve.errors import ApiError, from_validation
from serve.models import AnalyzeBody, RequestFields
from serve.options import BodyTimeouts, ServeOptions

Item = ImagePayload | ImageResult
_WORKERS_TEXT = re.compile(r"^[1-5]$")
_UNSAFE_NAME = re.compile(r"[^\w .,()+-]")


@dataclass(frozen=True)
class ParseInput:
    """A validated request: its fields and one intake item per image, in order."""

    fields: RequestFields
    items: list[Item]


async def read_parse_input(request: Request, options: ServeOptions) -> ParseInput:
    """Read and validate a JSON (``screenshots``) or multipart (``files``) parse request."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "multipart/form-data"):
        raise ApiError(
            415, f"Content-Type must be application/json or multipart/form-data, got {content_type!r}"
        )
    body = await _read_spooled(request, options.max_body_bytes, options.body_timeouts)
    try:
        if content_type == "application/json":
            return await _off_loop(_json_input, body, options)
        # python-multipart parses in Python, ~0.1 s per 20 MB: never on the replica's event loop
        return await _off_loop(_multipart_input, body, options, request.headers.get("content-type", ""))
    finally:
        body.discard()


async def read_capped_body(request: Request, limit: int, timeouts: BodyTimeouts | None = None) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes (408 when it stalls)."""
    return b"".join([chunk async for chunk in _capped_chunks(request, limit, timeouts or BodyTimeouts())])


async def _capped_chunks(request: Request, limit: int, timeouts: BodyTimeouts) -> AsyncIterator[bytes]:
    """The body's chunks; 413 before reading when the declared length passes ``limit``, and
    as soon as the bytes read do; 408 (and the connection closed) when no piece comes for
    ``timeouts.idle_s`` or the whole body is slower than ``timeouts.min_bytes_per_s``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total_s(int(declared) if declared.isdigit() else limit)
    pieces = request.stream()
    size = 0
    while True:
        wait = min(timeouts.idle_s, deadline - loop.time())
        try:
            chunk = await asyncio.wait_for(anext(pieces), timeout=max(wait, 0.0))
        except StopAsyncIteration:
            return
        except TimeoutError:
            await pieces.aclose()
            raise _too_slow(size, declared, timeouts) from None
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the limit of {limit} bytes")
        yield chunk


def _too_slow(size: int, declared: str, timeouts: BodyTimeouts) -> ApiError:
    """408 for a body that stalled; ``Connection: close`` makes the server drop the socket."""
    of = f" of {declared}" if declared else ""
    return ApiError(
        408,
        f"the request body stopped arriving ({size}{of} bytes read; a body must not pause over "
        f"{timeouts.idle_s:g} s nor average under {timeouts.min_bytes_per_s / 1024:g} KiB/s)",
        headers={"Connection": "close"},
    )


@dataclass
class SpooledBody:
    """A request body: in memory while small, in a spool file once it reaches ``OFFLOAD_BYTES``.

    A big body goes to the decoding process by name, so the replica never joins it into
    one buffer nor pickles it through a pipe (each a 20 MB copy under the GIL).
    """

    data: bytes = b""
    path: Path | None = None

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def _read_spooled(request: Request, limit: int, timeouts: BodyTimeouts | None = None) -> SpooledBody:
    """The body, capped at ``limit`` bytes (413); its chunks go to a spool file, a megabyte at a
    time in a thread, once it reaches ``OFFLOAD_BYTES``."""
    pending: list[bytes] = []
    size = pending_size = 0
    spool: SpooledBody | None = None
    fd = -1
    try:
        async for chunk in _capped_chunks(request, limit, timeouts or BodyTimeouts()):
            size += len(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= SPOOL_WRITE_BYTES or (spool is None and size >= OFFLOAD_BYTES):
                if spool is None:
                    fd, name = tempfile.mkstemp(prefix="body-", dir=_spool_dir())
                    spool = SpooledBody(path=Path(name))
                await run_in_threadpool(_write_all, fd, pending)
                pending, pending_size = [], 0
        if spool is None:
            return SpooledBody(data=b"".join(pending))
        await run_in_threadpool(_write_all, fd, pending)
        return spool
    except BaseException:
        if spool is not None:
            spool.discard()
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _write_all(fd: int, buffers: list[bytes]) -> None:
    for buffer in buffers:
        view = memoryview(buffer)
        while view:
            view = view[os.write(fd, view) :]


def decode_json(body: bytes) -> Any:
    """The JSON document of a body; anything that is not JSON (or nests too deep) is a 400.

    Blocking (a 50 MB body takes a while): call it in a thread.
    """
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"malformed JSON body: {exc}", field="body") from None
    except RecursionError:  # a nesting bomb: [[[[...]]]] 100k deep
        raise ApiError(400, "malformed JSON body: nested too deeply", field="body") from None


def _analyze_body(body: bytes, options: ServeOptions) -> AnalyzeBody:
    document = decode_json(body)
    if not isinstance(document, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(document).__name__}", field="body")
    screenshots = document.get("screenshots")
    if isinstance(screenshots, list):
        _check_count(len(screenshots), options, "screenshots")
    try:
        return AnalyzeBody.model_validate(document)
    except ValidationError as exc:
        raise from_validation(exc) from None


async def _off_loop(
    decode: Callable[..., ParseInput], body: SpooledBody, options: ServeOptions, *args: str
) -> ParseInput:
    """``decode(body, options, *args)`` away from the event loop: a spooled (big) body in the
    decoder process, which reads it from its file (so the GIL stays free for the loop), a
    small one in a thread."""
    if body.path is not None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_decoder(), _decode_spooled, decode, str(body.path), options, *args)
    return await run_in_threadpool(decode, body.data, options, *args)


def _decode_spooled(
    decode: Callable[..., ParseInput], path: str, options: ServeOptions, *args: str
) -> ParseInput:
    """In the decoder process: ``decode`` the body its spool file holds."""
    return decode(Path(path).read_bytes(), options, *args)


def _json_input(body: bytes, options: ServeOptions) -> ParseInput:
    parsed = _analyze_body(body, options)
    items = _intake_now(parsed.screenshots, options, "screenshots")
    return ParseInput(RequestFields.model_validate(parsed.model_dump(exclude={"screenshots"})), items)


# json.loads and base64 decoding hold the GIL for ~0.1 s per 20 MB: in a thread they would stall
# the replica's event loop (/healthz included). Bodies this big are decoded in a child process,
# at a lower CPU priority: on a busy machine the loops that answer probes and relay bodies
# (this replica's, Serve's proxy's) go first, and bulk decoding takes the cycles left over.
OFFLOAD_BYTES = 1024 * 1024
SPOOL_WRITE_BYTES = 1024 * 1024  # a spooled body is written in pieces this big, each in a thread
DECODER_NICENESS = 10
_spool_dirs: list[str] = []
_decoders: list[ProcessPoolExecutor] = []
_decoder_lock = threading.Lock()


def warm_decoder() -> None:
    """Start the decoding process now, so the first big request does not wait for it."""
    _decoder().submit(int).result(timeout=120)


def close_decoder() -> None:
    """Stop the decoding process and remove the spool directory (the replica is stopping)."""
    with _decoder_lock:
        for decoder in _decoders:
            decoder.shutdown(wait=False, cancel_futures=True)
        _decoders.clear()
        for directory in _spool_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        _spool_dirs.clear()


def _spool_dir() -> str:
    """This process's directory of spooled bodies (in the system's temp dir), made on first use."""
    with _decoder_lock:
        if not _spool_dirs:
            _spool_dirs.append(tempfile.mkdtemp(prefix="karaoke-bodies-"))
        return _spool_dirs[0]


def _decoder() -> ProcessPoolExecutor:
    """The replica's one body-decoding process, started on first use (spawned: Ray's threads
    make forking unsafe)."""
    with _decoder_lock:
        if not _decoders:
            context = multiprocessing.get_context("spawn")
            decoder = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_lower_priority)
            _decoders.append(decoder)
        return _decoders[0]


def _lower_priority() -> None:
    os.nice(DECODER_NICENESS)


def _multipart_input(body: bytes, options: ServeOptions, content_type: str) -> ParseInput:
    return asyncio.run(_read_form(body, options, content_type))


async def _read_form(body: bytes, options: ServeOptions, content_type: str) -> ParseInput:
    """The form of a multipart body, read by Starlette's parser from the bytes alone (no app
    in the scope, so a malformed body raises MultiPartException, made a 400 here)."""

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", content_type.encode("latin-1"))]}
    try:
        form = await Request(scope, receive).form(max_files=options.max_images + 1, max_fields=50)
    except MultiPartException as exc:
        raise ApiError(400, f"malformed multipart body: {exc.message}", field="files") from None
    try:
        uploads = [value for value in form.getlist("files") if isinstance(value, UploadFile)]
        if not uploads:
            raise ApiError(
                400, "files: no files uploaded (send images as multipart field `files`)", field="files"
            )
        _check_count(len(uploads), options, "files")
        fields = _form_fields({key: value for key, value in form.items() if isinstance(value, str)})
        contents = [await upload.read() for upload in uploads]
    finally:
        await form.close()
    items = _intake_now(contents, options, "files")
    names = [_display_name(upload.filename, index) for index, upload in enumerate(uploads)]
    return ParseInput(fields, [_named(item, name) for item, name in zip(items, names, strict=True)])


def _form_fields(form: dict[str, str]) -> RequestFields:
    """Form fields are text: a worker count must be a digit 1-5, a flag true or false."""
    text_fields = ("vendor", "description", "url", "referenceDate")
    values: dict[str, Any] = {key: form[key] for key in text_fields if key in form}
    workers = form.get("maxConcurrentWorkers", "").strip()
    if workers:
        if not _WORKERS_TEXT.match(workers):
            raise ApiError(
                400,
                f"maxConcurrentWorkers: must be an integer from 1 to 5, got {workers[:20]!r}",
                field="maxConcurrentWorkers",
            )
        values["maxConcurrentWorkers"] = int(workers)
    admin = form.get("isAdminUpload", "").strip().lower()
    if admin:
        if admin not in ("true", "false"):
            raise ApiError(
                400, f"isAdminUpload: must be true or false, got {admin[:20]!r}", field="isAdminUpload"
            )
        values["isAdminUpload"] = admin == "true"
    try:
        return RequestFields.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _check_count(count: int, options: ServeOptions, field: str) -> None:
    if count > options.max_images:
        raise ApiError(413, f"{field}: {count} images, at most {options.max_images} per request", field=field)


def _intake_now(inputs: Sequence[ImageInput], options: ServeOptions, field: str) -> list[Item]:
    """The library's intake; an image over the size limit refuses the whole request (413)."""
    items = intake(inputs, max_bytes=options.max_image_bytes)
    for index, item in enumerate(items):
        if isinstance(item, ImageResult) and item.error is not None and item.error.code == "too_large":
            raise ApiError(
                413,
                f"{field}[{index}]: image is over the limit of {options.max_image_bytes} bytes",
                field=f"{field}[{index}]",
            )
    return items


def _display_name(filename: str | None, index: int) -> str:
    """A label for results: the upload's base name, made safe; never used as a path."""
    name = _UNSAFE_NAME.sub("_", PurePath(filename or "").name)[:100].strip()
    return name or f"image-{index}"


def _named(item: Item, name: str) -> Item:
    return item.model_copy(update={"source": name})
