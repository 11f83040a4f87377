"""A fake of the Gemini REST API, for demos without a key, tests and benchmarks.

``POST /{v1|v1beta|v1alpha}/models/{model}:generateContent`` with the key in
``x-goog-api-key`` (or ``?key=``), both camelCase and snake_case field names.
The reply text is the JSON our local OCR backend reads from the received image
(``extract="ocr"``), or a fixed small schedule (``extract="echo"``, no OCR).
Latency, an RPM limit and faults are configured by ``FakeGeminiOptions``
(``fake_gemini_options``); request reading and Google-shaped bodies live in
``fake_gemini_wire``. Requests are logged and recorded without the key.

The Batch and Files APIs live in ``fake_gemini_batch`` (``fake.batches``).

``fake_gemini_cli.run_fake_gemini`` serves it until interrupted; ``FakeGeminiServer`` runs it
on a free port in a background thread for tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipeline.images import sniff_mime_type
from pipeline.schema import ParsedSchedule
from pipeline.testing.fake_gemini_batch import FakeBatches
from pipeline.testing.fake_gemini_options import (
    FakeGeminiOptions,
    FaultPlan,
    FaultRates,
    RateWindow,
)
from pipeline.testing.fake_gemini_wire import (
    MISSING_KEY,
    SERVER_ERRORS,
    BadRequestError,
    ImageRequest,
    blocked_envelope,
    echo_schedule,
    error_body,
    faulty_text,
    format_duration,
    invalid_key_body,
    quota_body,
    read_image_request,
    reply_envelope,
    schedule_text,
)

if TYPE_CHECKING:
    from pipeline.backends.local.engine import LocalBackend

__all__ = ["FakeGeminiOptions", "FakeGeminiServer", "FaultRates", "RequestRecord"]

logger = logging.getLogger(__name__)

API_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})
TOKENS_PER_IMAGE = 258  # what Gemini counts for a small image


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (``time`` in epoch seconds at arrival); never the key."""

    time: float
    method: str
    path: str
    model: str | None
    mime_type: str | None
    status: int
    fault: str
    duration_ms: float
    image_sha256: str | None = None  # the image it carried, to follow one image's attempts
    retry_delay_s: float | None = None  # the retryDelay a 429 stated, as sent (whole seconds)


class ClientGoneError(Exception):
    """The client hung up before the reply was ready."""


@dataclass
class Exchange:
    """What gets logged about one request, filled in as it is answered."""

    model: str | None = None
    mime_type: str | None = None
    fault: str = "-"
    image_sha256: str | None = None
    retry_delay_s: float | None = None


def _error(status: int, code_name: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, error_body(status, code_name, message)


class FakeGemini:
    """The fake API's state (options, fault plan, RPM window, OCR engine, log) and its ASGI app."""

    def __init__(self, options: FakeGeminiOptions | None = None) -> None:
        self._records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._backend: LocalBackend | None = None
        self._backend_lock = threading.Lock()
        self._ocr_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-gemini-ocr")
        self.batches = FakeBatches(self)
        self.configure(options or FakeGeminiOptions())
        routes = [
            Route("/{version}/models/{model}:generateContent", self._generate_content, methods=["POST"]),
            *self.batches.routes(),
            Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
        self.app = Starlette(routes=routes)

    def configure(self, options: FakeGeminiOptions) -> None:
        """New options; the script, random draws and RPM window start afresh, the OCR engine stays."""
        self.options = options
        self._plan = FaultPlan(options)
        self._window = RateWindow(options.rpm, options.rate_window_s)
        self._token_window = RateWindow(options.tpm, options.rate_window_s)
        self._requests_today = 0

    @property
    def requests(self) -> list[RequestRecord]:
        with self._records_lock:
            return list(self._records)

    def clear_requests(self) -> None:
        with self._records_lock:
            self._records.clear()

    def close(self) -> None:
        self._ocr_pool.shutdown(wait=False, cancel_futures=True)

    async def _generate_content(self, request: Request) -> JSONResponse:
        started, arrived = time.perf_counter(), time.time()
        exchange = Exchange(model=request.path_params["model"])
        try:
            status, body = await self._answer(request, exchange)
        except ClientGoneError:
            status, body = 499, {}  # the client gave up (timed out) before the reply
        self._record(request, exchange, status, started, arrived)
        return JSONResponse(body, status_code=status)

    async def _not_found(self, request: Request) -> JSONResponse:
        started, arrived = time.perf_counter(), time.time()
        self._record(request, Exchange(), 404, started, arrived)
        message = f"The requested URL {request.url.path} was not found on this server."
        return JSONResponse(error_body(404, "NOT_FOUND", message), status_code=404)

    def _record(
        self, request: Request, exchange: Exchange, status: int, started: float, arrived: float
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        path = request.url.path  # never the query string: it may hold ?key=
        record = RequestRecord(
            arrived,
            request.method,
            path,
            exchange.model,
            exchange.mime_type,
            status,
            exchange.fault,
            duration_ms,
            exchange.image_sha256,
            exchange.retry_delay_s,
        )
        with self._records_lock:
            self._records.append(record)
        logger.info("%s %s %d %.0f ms fault=%s", request.method, path, status, duration_ms, exchange.fault)

    @staticmethod
    def prompt_tokens(image_request: ImageRequest) -> int:
        return _prompt_tokens(image_request)

    def check_key(self, request: Request) -> tuple[int, dict[str, Any]] | None:
        """403 without a key, 400 API_KEY_INVALID for a wrong one (when a key is configured)."""
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(*MISSING_KEY)
        expected = self.options.api_key
        if expected is not None and key != expected.get_secret_value():
            return 400, invalid_key_body()
        return None

    async def _answer(self, request: Request, exchange: Exchange) -> tuple[int, dict[str, Any]]:
        """Status and body: checks in the order Google applies them, then faults, then the reply."""
        if request.path_params["version"] not in API_VERSIONS:
            return _error(404, "NOT_FOUND", f"API version {request.path_params['version']} not found")
        refused = self.check_key(request)
        if refused is not None:
            return refused
        try:
            image_request = read_image_request(json.loads(await request.body()))
        except (BadRequestError, ValueError, AttributeError) as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc) or "Invalid JSON payload received.")
        exchange.mime_type = image_request.mime_type
        if image_request.image is not None:
            exchange.image_sha256 = hashlib.sha256(image_request.image).hexdigest()
        refused = self._over_quota(exchange, image_request)
        if refused is not None:
            return refused
        exchange.fault = self._plan.next_fault()
        return await self._reply(request, image_request, exchange)

    def _over_quota(
        self, exchange: Exchange, image_request: ImageRequest
    ) -> tuple[int, dict[str, Any]] | None:
        """A 429 for the first quota this request does not fit: per day, per minute, tokens per minute."""
        options = self.options
        if options.rpd is not None and self._requests_today >= options.rpd:
            exchange.fault = "rpd_limit"
            return 429, self._quota_body(exchange, None, options.rpd, quota="day")
        wait_s = self._window.admit()
        if wait_s is not None:
            exchange.fault = "rpm_limit"
            return 429, self._quota_body(exchange, wait_s, options.rpm)
        wait_s = self._token_window.admit(amount=_prompt_tokens(image_request))
        if wait_s is not None:
            exchange.fault = "tpm_limit"
            return 429, self._quota_body(exchange, wait_s, options.tpm, quota="tokens")
        self._requests_today += 1
        return None

    def _quota_body(
        self, exchange: Exchange, retry_delay_s: float | None, limit: int | None, quota: str = "minute"
    ) -> dict[str, Any]:
        """A 429 as this fake's project gets it: free tier or paid, with or without the limit."""
        stated = limit if self.options.quota_states_limit else None
        free_tier = self.options.quota_tier == "free"
        body = quota_body(exchange.model or "", retry_delay_s, stated, quota=quota, free_tier=free_tier)
        if retry_delay_s is not None:
            exchange.retry_delay_s = float(format_duration(retry_delay_s).removesuffix("s"))
        return body

    async def wait_for(self, request: Request, seconds: float) -> None:
        """Sleep, but stop early (ClientGoneError) once the client has hung up, e.g. on its timeout."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))
            if await request.is_disconnected():
                raise ClientGoneError

    async def _reply(
        self, request: Request, image_request: ImageRequest, exchange: Exchange
    ) -> tuple[int, dict[str, Any]]:
        """The answer after the fault is chosen: quick refusals, or wait, then an error or content."""
        fault, model = exchange.fault, exchange.model or ""
        if fault == "http_429":
            return 429, self._quota_body(exchange, self.options.retry_delay_s, self.options.rpm or 10)
        if fault == "http_429_day":
            return 429, self._quota_body(exchange, None, self.options.rpd or 250, quota="day")
        if fault == "http_429_zero":
            return 429, quota_body(model, None, 0, quota="day")
        if fault == "http_403":
            return _error(*SERVER_ERRORS["http_403"])
        delay = self._plan.latency_s() + (self.options.slow_delay_s if fault == "slow" else 0.0)
        await self.wait_for(request, delay)
        if fault in SERVER_ERRORS:
            return _error(*SERVER_ERRORS[fault])
        prompt_tokens = _prompt_tokens(image_request)
        if fault == "blocked":
            return 200, blocked_envelope(model, prompt_tokens)
        try:
            schedule = await self.schedule_for(image_request.image)
        except BadRequestError as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc))
        text = schedule_text(schedule)
        if not image_request.json_mode and fault == "ok":
            fault = "fenced_json"  # without JSON mode a chatty model wraps its JSON in a fence
        text, finish_reason = faulty_text(text, fault, self.options.truncate_fraction)
        return 200, reply_envelope(text, finish_reason, model, prompt_tokens)

    async def schedule_for(self, image: bytes | None) -> ParsedSchedule:
        """The schedule to answer with: a fixed one in echo mode, else OCR in the worker thread."""
        if self.options.extract == "echo" or image is None:
            if image is not None and sniff_mime_type(image) is None:
                raise BadRequestError("Unable to process input image. Please retry or report the problem.")
            return echo_schedule() if image is not None else ParsedSchedule()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ocr_pool, self._read_image, image)

    def _read_image(self, data: bytes) -> ParsedSchedule:
        from PIL import Image, ImageOps, UnidentifiedImageError

        try:
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise BadRequestError(
                "Unable to process input image. Please retry or report the problem."
            ) from exc
        return self._local_backend().extract(image).schedule

    def _local_backend(self) -> LocalBackend:
        """The one LocalBackend of this server, built on first use (loading OCR takes a moment)."""
        with self._backend_lock:
            if self._backend is None:
                from pipeline.backends.base import LocalOptions
                from pipeline.backends.local.engine import LocalBackend

                self._backend = LocalBackend(LocalOptions(ocr_threads=self.options.ocr_threads))
            return self._backend


# --- serving ---------------------------------------------------------------------


def _prompt_tokens(image_request: ImageRequest) -> int:
    return TOKENS_PER_IMAGE + image_request.prompt_chars // 4


def uvicorn_server(fake: FakeGemini, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(
        fake.app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # uvicorn's access log would print ?key= query strings
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


class FakeGeminiServer:
    """The fake API on a free loopback port in a background thread: ``with FakeGeminiServer() as s``."""

    def __init__(self, options: FakeGeminiOptions | None = None, host: str = "127.0.0.1") -> None:
        self.fake = FakeGemini(options)
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn_server(self.fake, host, self.port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-gemini", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far (a copy), oldest first."""
        return self.fake.requests

    def configure(self, options: FakeGeminiOptions) -> None:
        """Switch behaviour between tests without a restart (the OCR engine is kept)."""
        self.fake.configure(options)

    def clear_requests(self) -> None:
        self.fake.clear_requests()

    @property
    def batches(self) -> FakeBatches:
        """The Batch API's jobs, files and creates per display name."""
        return self.fake.batches

    def start(self, timeout_s: float = 10.0) -> FakeGeminiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Gemini server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()
        self.fake.close()

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()
