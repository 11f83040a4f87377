"""The Ray Serve application: FastAPI ingress over one long-lived worker fleet per replica.

Thin by design: each route validates the request, builds library objects
(intake items, a ``RunRequest``) and hands them to ``pipeline.jobs``; parsing,
cleaning and merging all happen in the library. Deploy with
``karaoke-pipeline serve`` or ``serve run serve/config.yaml``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from ray import serve
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from pipeline.cache import ResultCache
from pipeline.job_store import JobStore, RunDefaults, load_run_defaults, save_run_defaults
from pipeline.jobs import JobRunner, RunRequest, start_fleet
from pipeline.runner import PoolOptions
from pipeline.schema import ParseResponse
from pipeline.worker import WorkerOptions
from serve.bodies import ParseInput, read_capped_body, read_parse_input
from serve.errors import (
    ApiError,
    api_error_handler,
    from_validation,
    http_exception_handler,
    request_validation_handler,
)
from serve.guards import RateLimiter, require_admin
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
api.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

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
        self.options = options
        worker_options = WorkerOptions(num_cpus=options.worker_num_cpus, max_pixels=options.max_image_pixels)
        fleet = start_fleet(options.backend, worker_options, options.fleet_size, options.rate_limit())
        self.store = JobStore(options.data_dir / "jobs", options.job_ttl_s)
        self.metrics = ServeMetrics()
        pool_options = PoolOptions(image_timeout_s=options.image_timeout_s)
        use_cache = options.use_cache and options.backend.cache_identity(None) is not None
        cache = ResultCache.in_data_dir(options.data_dir) if use_cache else None
        self.runner = JobRunner(fleet, self.store, pool_options, observer=self.metrics, cache=cache)
        self.limiter = RateLimiter(options.rate_limit_per_minute, options.rate_limit_burst)
        self.settings_path = options.data_dir / "settings.json"

    def __del__(self) -> None:
        """Serve calls this when the replica stops: end running jobs and the fleet."""
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()

    @api.get("/", include_in_schema=False)
    async def upload_page(self) -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @api.get("/healthz", summary="the replica is up")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", summary="worker actors answer")
    async def readyz(self) -> JSONResponse:
        import ray

        refs = [actor.ping.remote() for actor in self.runner.fleet.actors]
        answered, _ = await run_in_threadpool(ray.wait, refs, num_returns=len(refs), timeout=2.0)
        # a busy worker answers after its image; one answer shows the fleet is reachable
        ready = bool(answered)
        body = {"ready": ready, "workers": len(refs), "answered": len(answered)}
        return JSONResponse(body, status_code=200 if ready else 503)

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
        record = self.runner.submit(self._run_request(parse_input, parallel=True, admin=admin))
        base = f"{request.scope.get('root_path', '')}{PARSER}/jobs/{record.job_id}"
        urls = JobUrls(status=base, events=f"{base}/events", websocket=f"{base}/ws")
        accepted = JobAccepted(job_id=record.job_id, status=record.status, urls=urls)
        return JSONResponse(accepted.to_wire(), status_code=202, headers={"Location": base})

    @api.get(f"{PARSER}/jobs/{{job_id}}", summary="status, progress and, when done, the result")
    async def get_job(self, job_id: str) -> JSONResponse:
        return JSONResponse(JobView.of(self._record(job_id)).to_wire())

    @api.delete(f"{PARSER}/jobs/{{job_id}}", summary="cancel a queued or running job")
    async def cancel_job(self, job_id: str) -> JSONResponse:
        record = self._record(job_id)
        if record.finished:
            raise ApiError(409, f"job {job_id} has already ended ({record.status})")
        cancelled = self.runner.cancel(job_id) or record
        return JSONResponse(JobView.of(cancelled).to_wire(), status_code=202)

    @api.get(f"{PARSER}/jobs/{{job_id}}/events", summary="progress as server-sent events")
    async def job_events(self, job_id: str) -> StreamingResponse:
        self._record(job_id)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            sse_events(self.store, job_id), media_type="text/event-stream", headers=headers
        )

    @api.websocket(f"{PARSER}/jobs/{{job_id}}/ws")
    async def job_websocket(self, websocket: WebSocket, job_id: str) -> None:
        await websocket_feed(websocket, self.store, job_id)

    @api.get(f"{PARSER}/settings", summary="run defaults (admin)")
    async def get_settings(self, request: Request) -> JSONResponse:
        self._check_admin(request)
        return JSONResponse(load_run_defaults(self.settings_path).to_wire())

    @api.put(f"{PARSER}/settings", summary="change run defaults (admin)")
    async def put_settings(self, request: Request) -> JSONResponse:
        self._check_admin(request)
        update = await self._settings_update(request)
        changed = load_run_defaults(self.settings_path).model_copy(
            update=update.model_dump(exclude_none=True)
        )
        await run_in_threadpool(save_run_defaults, self.settings_path, RunDefaults.model_validate(changed))
        return JSONResponse(changed.to_wire())

    async def _analyze(self, request: Request, *, admin: bool, parallel: bool) -> JSONResponse:
        parse_input = await self._admitted(request, admin=admin)
        run_request = self._run_request(parse_input, parallel=parallel, admin=admin)
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.runner.executor, self.runner.run_now, run_request)
        return JSONResponse(_rendered(response, admin))

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

    def _run_request(self, parse_input: ParseInput, *, parallel: bool, admin: bool) -> RunRequest:
        defaults = load_run_defaults(self.settings_path)
        workers = defaults.workers_for(parse_input.fields.max_concurrent_workers) if parallel else 1
        return RunRequest(
            items=parse_input.items, workers=workers, context=parse_input.fields.context(), admin=admin
        )

    def _record(self, job_id: str) -> Any:
        record = self.store.get(job_id)
        if record is None:
            raise ApiError(404, f"no job {job_id[:40]!r} (unknown, or its result expired)", field="jobId")
        return record

    async def _settings_update(self, request: Request) -> SettingsUpdate:
        import json

        body = await read_capped_body(request, 64 * 1024)
        try:
            return SettingsUpdate.model_validate(json.loads(body))
        except ValidationError as exc:
            raise from_validation(exc) from None
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON body: {exc}", field="body") from None


# Decorated here, not with @: the class stays importable under its own name, so Ray
# pickles it (and its route functions) by reference. Pickled by value, the routes
# would lose the globals that their string annotations name (``Request``...).
ParserDeployment = serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)(
    serve.ingress(api)(ParserService)
)


def _rendered(response: ParseResponse, admin: bool) -> dict[str, Any]:
    """The wire JSON; an admin upload's is marked for approval and timestamped."""
    if not admin:
        return response.to_wire()
    marked = AdminParseResponse(**dict(response), timestamp=dt.datetime.now(dt.UTC))
    return marked.to_wire()


def build_app(options: ServeOptions) -> serve.Application:
    """The application for these options, its replica CPU share set explicitly."""
    deployment = ParserDeployment.options(ray_actor_options={"num_cpus": options.replica_num_cpus})
    application: serve.Application = deployment.bind(options)
    return application


def app_builder(args: dict[str, Any]) -> serve.Application:
    """For ``serve run``/``serve deploy``: settings from the environment, ``args`` on top."""
    return build_app(ServeOptions.from_settings(**args))
