"""The Ray Serve application: a FastAPI front over the parser deployment's worker fleets.

Two deployments. The front (here) owns HTTP: each route validates the request, builds
library objects (intake items, a ``RunRequest``) and hands runs to the parser deployment
(``serve/parser.py``), whose replicas each hold a fleet and run ``pipeline.jobs``; parsing,
cleaning and merging all happen in the library. Because the front outlives a parser
replica, a replica that dies mid-request is a retry or a JSON ``503``, never Serve's
``500 text/plain`` (docs/replica-failures.md). Deploy with ``karaoke-pipeline serve`` or
``serve run serve/config.yaml``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from ray import serve
from ray.exceptions import RayError
from ray.serve.handle import DeploymentHandle
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.budget_actor import get_rate_limiter
from pipeline.job_store import JobRecord, JobStore, RunDefaults
from pipeline.jobs import RunRequest
from pipeline.progress import get_progress_actor
from serve.bodies import (
    ParseInput,
    close_decoder,
    decode_json,
    read_capped_body,
    read_parse_input,
    warm_decoder,
)
from serve.errors import (
    ApiError,
    ReplicaGoneError,
    api_error_handler,
    from_validation,
    http_exception_handler,
    internal_error_handler,
    ray_error_handler,
    request_validation_handler,
)
from serve.guards import RateLimiter, require_admin
from serve.health import HelperWatch, Ping
from serve.metrics import ServeMetrics
from serve.models import AnalyzeBody, JobAccepted, JobUrls, JobView, SettingsUpdate
from serve.options import ServeOptions
from serve.parser import ParserDeployment, replica_name
from serve.parser_client import PROBE_S, ParserClient
from serve.streams import sse_events, websocket_feed

T = TypeVar("T")

STATIC_DIR = Path(__file__).parent / "static"
PARSER = "/api/parser"
REPLICA_HEADER = "X-Karaoke-Replica"

api = FastAPI(
    title="karaoke-pipeline",
    version="0.1.0",
    description="Screenshots of karaoke schedules in, deduplicated show listings out, on Ray Serve.",
)
api.add_exception_handler(ApiError, api_error_handler)
api.add_exception_handler(RequestValidationError, request_validation_handler)
api.add_exception_handler(HTTPException, http_exception_handler)
api.add_exception_handler(RayError, ray_error_handler)
api.add_exception_handler(Exception, internal_error_handler)
api.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


class ReplicaHeader:
    """Names the replica that answered in ``X-Karaoke-Replica`` (operators and tests see the routing):
    the parser replica that ran a request (the route sets it), else this front replica.

    Plain ASGI, not ``BaseHTTPMiddleware``, so streaming and disconnects pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.name = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.name:
            self.name = replica_name().encode()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(key.lower() == b"x-karaoke-replica" for key, _ in headers):
                    message["headers"] = [*headers, (b"x-karaoke-replica", self.name)]
            await send(message)

        await self.app(scope, receive, named)


api.add_middleware(ReplicaHeader)

PARSE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": AnalyzeBody.model_json_schema(by_alias=True)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "maxConcurrentWorkers": {"type": "integer", "minimum": 1, "maximum": 5},
                        "vendor": {"type": "string"},
                        "description": {"type": "string"},
                        "url": {"type": "string"},
                        "isAdminUpload": {"type": "boolean"},
                    },
                }
            },
        },
    }
}


class Front:
    """The ingress: every route, every answer in the API's JSON shape, over the parser deployment.

    It reads and checks requests (auth, rate limit, body limits and deadlines), serves the
    upload page, job records and their live progress, and hands runs to the parser's
    replicas through ``ParserClient``, which retries a run whose replica died and turns a
    missing replica into ``503`` with ``Retry-After``. Health probes answer from here, from
    the last verdict of a background watch, never waiting on a dead replica.
    """

    def __init__(self, options: ServeOptions, parser: DeploymentHandle) -> None:
        self.options = options
        self.parser = ParserClient(parser)
        self.store = JobStore.shared(options.jobs_location(), options.job_ttl_s, options.orphan_after_s)
        self.progress = get_progress_actor()
        self.metrics = ServeMetrics()
        self.limiter = RateLimiter(options.rate_limit_per_minute, options.rate_limit_burst)
        pings: dict[str, Ping] = {"progress": self.progress.ping.remote}
        budget = options.rate_limit()
        if budget is not None:
            pings["rate limiter"] = get_rate_limiter(budget).ping.remote
        pings["parser"] = self.parser.ping
        self.helpers = HelperWatch(pings, interval_s=HELPER_PING_S, timeout_s=HELPER_TIMEOUT_S)
        self.name = replica_name()
        warm_decoder()

    def __del__(self) -> None:
        """Serve calls this when the replica stops."""
        helpers = getattr(self, "helpers", None)
        if helpers is not None:
            helpers.close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        close_decoder()

    @api.get("/", include_in_schema=False)
    async def upload_page(self) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @api.get("/healthz", summary="the front is up; the parser replicas and helper actors answer")
    async def healthz(self) -> JSONResponse:
        down = await self.helpers.down()
        if down:
            return JSONResponse({"status": "degraded", "down": down}, status_code=503)
        return JSONResponse({"status": "ok"})

    @api.get("/readyz", summary="a parser replica's workers have all started and the helpers answer")
    async def readyz(self) -> JSONResponse:
        """One parser replica's readiness (named in ``X-Karaoke-Replica``), within ``PROBE_S``."""
        try:
            replica, body = await self.parser.readiness()
        except ReplicaGoneError:
            replica = self.name
            body = {"ready": False, "workers": 0, "wanted": self.options.workers, "queuedImages": 0}
            body["waitingFor"] = f"no parser replica answered within {PROBE_S:g} s (one is starting)"
        down = [name for name in await self.helpers.down() if name != "parser"]
        if down:
            waiting = [str(body["waitingFor"])] if "waitingFor" in body else []
            body.update(ready=False, waitingFor="; ".join([*waiting, f"{', '.join(down)} not answering"]))
        headers = {REPLICA_HEADER: replica}
        return JSONResponse(body, status_code=200 if body["ready"] else 503, headers=headers)

    @api.post(f"{PARSER}/analyze-screenshots", openapi_extra=PARSE_BODY, summary="user upload, one at a time")
    async def analyze_screenshots(self, request: Request) -> JSONResponse:
        return await self._analyze(request, admin=False, parallel=False)

    @api.post(f"{PARSER}/analyze-screenshots-parallel", openapi_extra=PARSE_BODY, summary="user upload")
    async def analyze_screenshots_parallel(self, request: Request) -> JSONResponse:
        return await self._analyze(request, admin=False, parallel=True)

    @api.post(f"{PARSER}/analyze-admin-screenshots", openapi_extra=PARSE_BODY, summary="admin, one at a time")
    async def analyze_admin_screenshots(self, request: Request) -> JSONResponse:
        return await self._analyze(request, admin=True, parallel=False)

    @api.post(
        f"{PARSER}/analyze-admin-screenshots-parallel", openapi_extra=PARSE_BODY, summary="admin upload"
    )
    async def analyze_admin_screenshots_parallel(self, request: Request) -> JSONResponse:
        return await self._analyze(request, admin=True, parallel=True)

    @api.post(f"{PARSER}/jobs", openapi_extra=PARSE_BODY, status_code=202, summary="start a job")
    async def create_job(self, request: Request) -> JSONResponse:
        parse_input = await self._admitted(request, admin=False)
        admin = bool(parse_input.fields.is_admin_upload)
        if admin:
            self._check_admin(request)
        run_request = await self._run_request(parse_input, parallel=True, admin=admin)
        replica, record = await self._refusals_counted(self.parser.submit(run_request))
        base = f"{request.scope.get('root_path', '')}{PARSER}/jobs/{record['jobId']}"
        urls = JobUrls(status=base, events=f"{base}/events", websocket=f"{base}/ws")
        accepted = JobAccepted(job_id=record["jobId"], status=record["status"], urls=urls)
        headers = {"Location": base, REPLICA_HEADER: replica}
        return JSONResponse(accepted.to_wire(), status_code=202, headers=headers)

    @api.get(f"{PARSER}/jobs/{{job_id}}", summary="status, progress and, when done, the result")
    async def get_job(self, request: Request, job_id: str) -> JSONResponse:
        record = await self._record(job_id, request.headers.get("authorization"))
        return JSONResponse(JobView.of(record).to_wire())

    @api.delete(f"{PARSER}/jobs/{{job_id}}", summary="cancel a queued or running job")
    async def cancel_job(self, request: Request, job_id: str) -> JSONResponse:
        record = await self._record(job_id, request.headers.get("authorization"))
        if record.finished:
            raise ApiError(409, f"job {job_id} has already ended ({record.status})")
        cancelled = await run_in_threadpool(self.store.request_cancel, job_id) or record
        return JSONResponse(JobView.of(cancelled).to_wire(), status_code=202)

    @api.get(f"{PARSER}/jobs/{{job_id}}/events", summary="progress as server-sent events")
    async def job_events(self, request: Request, job_id: str) -> StreamingResponse:
        await self._record(job_id, request.headers.get("authorization"))
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        events = sse_events(self.store, self.progress, job_id)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    @api.websocket(f"{PARSER}/jobs/{{job_id}}/ws")
    async def job_websocket(self, websocket: WebSocket, job_id: str) -> None:
        try:
            await self._record(job_id, websocket.headers.get("authorization"))
        except ApiError as exc:
            if exc.status in (401, 403):  # before accept: the handshake is refused (HTTP 403)
                await websocket.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:100])
                return
        await websocket_feed(websocket, self.store, self.progress, job_id)

    @api.get(f"{PARSER}/settings", summary="run defaults (admin)")
    async def get_settings(self, request: Request) -> JSONResponse:
        self._check_admin(request)
        defaults = await run_in_threadpool(self.store.run_defaults)
        return JSONResponse(defaults.to_wire())

    @api.put(f"{PARSER}/settings", summary="change run defaults (admin)")
    async def put_settings(self, request: Request) -> JSONResponse:
        self._check_admin(request)
        update = await self._settings_update(request)
        stored = await run_in_threadpool(self.store.run_defaults)
        changed = stored.model_copy(update=update.model_dump(exclude_none=True))
        await run_in_threadpool(self.store.set_run_defaults, RunDefaults.model_validate(changed))
        return JSONResponse(changed.to_wire())

    async def _analyze(self, request: Request, *, admin: bool, parallel: bool) -> JSONResponse:
        parse_input = await self._admitted(request, admin=admin)
        run_request = await self._run_request(parse_input, parallel=parallel, admin=admin)
        run = asyncio.ensure_future(self._refusals_counted(self.parser.run(run_request)))
        watcher = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({run, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when Serve cancels this handler: cancelling the run stops it on the replica
            watcher.cancel()
            if not run.done():
                run.cancel()
        if not run.done() or run.cancelled():
            raise ApiError(499, "the client closed the request")
        replica, rendered = run.result()
        return JSONResponse(rendered, headers={REPLICA_HEADER: replica})

    async def _refusals_counted(self, call: Awaitable[T]) -> T:
        """``call``'s answer; a refusal from the parser (busy: 503) is counted like the front's own."""
        try:
            return await call
        except ApiError as exc:
            self.metrics.refused(exc.status)
            raise

    async def _admitted(self, request: Request, *, admin: bool) -> ParseInput:
        """Auth or rate limit first (cheap), then the body; refusals are counted."""
        try:
            if admin or "authorization" in request.headers:  # a bad token is refused, not rate limited
                self._check_admin(request)
            else:
                self.limiter.check(request.client.host if request.client else "unknown")
            return await read_parse_input(request, self.options)
        except ApiError as exc:
            self.metrics.refused(exc.status)
            raise

    def _check_admin(self, request: Request) -> None:
        require_admin(request.headers.get("authorization"), self.options.admin_token)

    async def _run_request(self, parse_input: ParseInput, *, parallel: bool, admin: bool) -> RunRequest:
        defaults = await run_in_threadpool(self.store.run_defaults)
        workers = defaults.workers_for(parse_input.fields.max_concurrent_workers) if parallel else 1
        return RunRequest(
            items=parse_input.items, workers=workers, context=parse_input.fields.context(), admin=admin
        )

    async def _record(self, job_id: str, authorization: str | None) -> JobRecord:
        """The job's record; an admin upload's is shown only to a caller with the admin token."""
        record = await run_in_threadpool(self.store.get, job_id)
        if record is None:
            raise ApiError(404, f"no job {job_id[:40]!r} (unknown, or its result expired)", field="jobId")
        if record.admin:
            require_admin(authorization, self.options.admin_token)
        return record

    async def _settings_update(self, request: Request) -> SettingsUpdate:
        body = await read_capped_body(request, 64 * 1024, self.options.body_timeouts)
        document = await run_in_threadpool(decode_json, body)
        try:
            return SettingsUpdate.model_validate(document)
        except ValidationError as exc:
            raise from_validation(exc) from None


# Decorated here, not with @: the class stays importable under its own name, so Ray
# pickles it (and its route functions) by reference. Pickled by value, the routes
# would lose the globals that their string annotations name (``Request``...).
# No CPU share of its own, like Serve's proxy: it relays, and decodes bodies in a process pool.
FrontDeployment = serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1024)(
    serve.ingress(api)(Front)
)
HELPER_TIMEOUT_S = 5.0  # longer is as good as down; 1 s was missed at a load of 10-20 on 2 cores
HELPER_PING_S = 1.0  # how often a replica asks its helper actors; /healthz reads the last answer
DISCONNECT_POLL_S = 0.2


async def _client_gone(request: Request) -> None:
    """Returns once the client has disconnected (Serve may also cancel the handler: both stop the run)."""
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_S)


def build_app(options: ServeOptions, *, fixed_replicas: bool = True) -> serve.Application:
    """The application for these options: the front (the HTTP ingress) over the parser
    deployment, whose replica CPU share is set explicitly and whose replicas' fleets are
    sized from the CPUs Ray reports now (so every worker it counts fits).

    ``fixed_replicas``: run ``options.replicas`` replicas; else leave it to the config
    (an ``autoscaling_config``).
    """
    options = options.sized_for_cluster()
    changes: dict[str, Any] = {"ray_actor_options": {"num_cpus": options.replica_num_cpus}}
    if fixed_replicas:
        changes["num_replicas"] = options.replicas
    parser = ParserDeployment.options(**changes).bind(options)
    application: serve.Application = FrontDeployment.bind(options, parser)
    return application


def app_builder(args: dict[str, Any]) -> serve.Application:
    """For ``serve run``/``serve deploy``: settings from the environment, ``args`` on top;
    replicas (or autoscaling) come from the config's ``deployments``."""
    return build_app(ServeOptions.from_settings(**args), fixed_replicas=False)
