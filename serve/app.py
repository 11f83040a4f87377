"""The Ray Serve application: FastAPI ingress over one long-lived worker fleet per replica.

Thin by design: each route validates the request, builds library objects
(intake items, a ``RunRequest``) and hands them to ``pipeline.jobs``; parsing,
cleaning and merging all happen in the library. Deploy with
``karaoke-pipeline serve`` or ``serve run serve/config.yaml``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from ray import serve
from ray.exceptions import RayError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.cache import ResultCache
from pipeline.errors import JobCancelled
from pipeline.job_store import JobRecord, JobStore, RunDefaults
from pipeline.jobs import JobRunner, RunRequest
from pipeline.pool import start_fleet
from pipeline.schema import ParseResponse
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
    api_error_handler,
    from_validation,
    http_exception_handler,
    internal_error_handler,
    ray_error_handler,
    request_validation_handler,
)
from serve.guards import Admission, RateLimiter, require_admin
from serve.health import HelperWatch
from serve.metrics import ServeMetrics
from serve.models import AdminParseResponse, AnalyzeBody, JobAccepted, JobUrls, JobView, SettingsUpdate
from serve.options import ServeOptions
from serve.streams import sse_events, websocket_feed

STATIC_DIR = Path(__file__).parent / "static"
PARSER = "/api/parser"

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
    """Names the replica that answered in ``X-Karaoke-Replica`` (operators and tests see the routing).

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
            self.name = _replica_name().encode()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-karaoke-replica", self.name)]
            await send(message)

        await self.app(scope, receive, named)


def _replica_name() -> str:
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:  # outside a replica (a plain ASGI test client)
        return "local"


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


class ParserService:
    """One replica: a worker fleet, a job store, a rate limiter and the routes."""

    def __init__(self, options: ServeOptions) -> None:
        options = options.sized_for_cluster()  # normally done by build_app, where the driver sees the node
        assert options.fleet_size is not None and options.worker_num_cpus is not None
        self.options = options
        plan = options.plan()
        # users' requests and admins' bulk jobs share the fleet: bulk always leaves one worker free
        fleet = start_fleet(
            plan.backend,
            plan.worker,
            options.fleet_size,
            plan.rate_limit,
            ready_only=True,
            interactive_workers=1,
            scaling=plan.scaling,
        )
        self.store = JobStore.shared(options.jobs_location(), options.job_ttl_s, options.orphan_after_s)
        self.admission = Admission(options.max_queued_images, options.fleet_size)
        self.metrics = ServeMetrics()
        use_cache = options.use_cache and options.backend.cache_identity(None) is not None
        cache = (
            ResultCache.in_data_dir(options.data_dir, similar=options.similar_cache) if use_cache else None
        )
        self.runner = JobRunner(fleet, self.store, plan.pool, observer=self.metrics, cache=cache)
        self.limiter = RateLimiter(options.rate_limit_per_minute, options.rate_limit_burst)
        pings = {}
        if fleet.progress is not None:
            pings["progress"] = fleet.progress.ping.remote
        if fleet.limiter is not None:
            pings["rate limiter"] = fleet.limiter.ping.remote
        self.helpers = HelperWatch(pings, interval_s=HELPER_PING_S, timeout_s=HELPER_TIMEOUT_S)
        warm_decoder()

    def __del__(self) -> None:
        """Serve calls this when the replica stops: end running jobs and the fleet."""
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()
        helpers = getattr(self, "helpers", None)
        if helpers is not None:
            helpers.close()
        close_decoder()

    @api.get("/", include_in_schema=False)
    async def upload_page(self) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @api.get("/healthz", summary="the replica is up and the cluster's helper actors answer")
    async def healthz(self) -> JSONResponse:
        down = await self.helpers.down()
        if down:
            return JSONResponse({"status": "degraded", "down": down}, status_code=503)
        return JSONResponse({"status": "ok"})

    @api.get("/readyz", summary="every worker has started and the helper actors answer")
    async def readyz(self) -> JSONResponse:
        body = self.runner.fleet.readiness().to_wire()
        down = await self.helpers.down()
        if down:
            waiting = [str(body["waitingFor"])] if "waitingFor" in body else []
            body.update(ready=False, waitingFor="; ".join([*waiting, f"{', '.join(down)} not answering"]))
        body["queuedImages"] = self.admission.held
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

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
        images = len(run_request.items)
        self.admission.admit(images)
        try:
            record = await run_in_threadpool(
                self.runner.submit, run_request, partial(self.admission.release, images)
            )
        except BaseException:
            self.admission.release(images)
            raise
        base = f"{request.scope.get('root_path', '')}{PARSER}/jobs/{record.job_id}"
        urls = JobUrls(status=base, events=f"{base}/events", websocket=f"{base}/ws")
        accepted = JobAccepted(job_id=record.job_id, status=record.status, urls=urls)
        return JSONResponse(accepted.to_wire(), status_code=202, headers={"Location": base})

    @api.get(f"{PARSER}/jobs/{{job_id}}", summary="status, progress and, when done, the result")
    async def get_job(self, request: Request, job_id: str) -> JSONResponse:
        record = await self._record(job_id, request.headers.get("authorization"))
        return JSONResponse(JobView.of(record).to_wire())

    @api.delete(f"{PARSER}/jobs/{{job_id}}", summary="cancel a queued or running job")
    async def cancel_job(self, request: Request, job_id: str) -> JSONResponse:
        record = await self._record(job_id, request.headers.get("authorization"))
        if record.finished:
            raise ApiError(409, f"job {job_id} has already ended ({record.status})")
        cancelled = await run_in_threadpool(self.runner.cancel, job_id) or record
        return JSONResponse(JobView.of(cancelled).to_wire(), status_code=202)

    @api.get(f"{PARSER}/jobs/{{job_id}}/events", summary="progress as server-sent events")
    async def job_events(self, request: Request, job_id: str) -> StreamingResponse:
        await self._record(job_id, request.headers.get("authorization"))
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        events = sse_events(self.store, self.runner.fleet.progress, job_id)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    @api.websocket(f"{PARSER}/jobs/{{job_id}}/ws")
    async def job_websocket(self, websocket: WebSocket, job_id: str) -> None:
        try:
            await self._record(job_id, websocket.headers.get("authorization"))
        except ApiError as exc:
            if exc.status in (401, 403):  # before accept: the handshake is refused (HTTP 403)
                await websocket.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:100])
                return
        await websocket_feed(websocket, self.store, self.runner.fleet.progress, job_id)

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
        images = len(run_request.items)
        self.admission.admit(images)
        client_gone = threading.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(request, client_gone))
        try:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(
                self.runner.executor, self.runner.run_now, run_request, client_gone.is_set
            )
        except JobCancelled:  # the client went away: nobody reads this
            raise ApiError(499, "the client closed the request") from None
        finally:
            client_gone.set()  # the run has ended, or this handler was cancelled (client gone)
            watcher.cancel()
            self.admission.release(images)
        rendered = await run_in_threadpool(_rendered, response, admin)
        return JSONResponse(rendered)

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
ParserDeployment = serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)(
    serve.ingress(api)(ParserService)
)
HELPER_TIMEOUT_S = 5.0  # longer is as good as down; 1 s was missed at a load of 10-20 on 2 cores
HELPER_PING_S = 1.0  # how often a replica asks its helper actors; /healthz reads the last answer
DISCONNECT_POLL_S = 0.2


async def _watch_disconnect(request: Request, gone: threading.Event) -> None:
    """Set ``gone`` when the client disconnects (Serve may also cancel the handler: both stop the run)."""
    while not gone.is_set():
        if await request.is_disconnected():
            gone.set()
            return
        await asyncio.sleep(DISCONNECT_POLL_S)


def _rendered(response: ParseResponse, admin: bool) -> dict[str, Any]:
    """The wire JSON; an admin upload's is marked for approval and timestamped."""
    if not admin:
        return response.to_wire()
    marked = AdminParseResponse(**dict(response), timestamp=dt.datetime.now(dt.UTC))
    return marked.to_wire()


def build_app(options: ServeOptions, *, fixed_replicas: bool = True) -> serve.Application:
    """The application for these options: its replica CPU share set explicitly, and each
    replica's fleet sized from the CPUs Ray reports now (so every worker it counts fits).

    ``fixed_replicas``: run ``options.replicas`` replicas; else leave it to the config
    (an ``autoscaling_config``).
    """
    options = options.sized_for_cluster()
    changes: dict[str, Any] = {"ray_actor_options": {"num_cpus": options.replica_num_cpus}}
    if fixed_replicas:
        changes["num_replicas"] = options.replicas
    application: serve.Application = ParserDeployment.options(**changes).bind(options)
    return application


def app_builder(args: dict[str, Any]) -> serve.Application:
    """For ``serve run``/``serve deploy``: settings from the environment, ``args`` on top;
    replicas (or autoscaling) come from the config's ``deployments``."""
    return build_app(ServeOptions.from_settings(**args), fixed_replicas=False)
