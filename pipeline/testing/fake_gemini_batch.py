"""The fake server's Batch API and Files API, shaped as google-genai calls them (Developer API).

Routes (``{v}`` is v1, v1beta or v1alpha), as ``google/genai/batches.py`` and ``files.py`` build them:

- ``POST /{v}/models/{model}:batchGenerateContent``: body ``{"batch": {"displayName",
  "inputConfig": {"requests": {"requests": [{"request", "metadata"}]}} | {"fileName"}}}``;
  answers an Operation ``{"name": "batches/ID", "metadata": {... "state": "BATCH_STATE_PENDING"}}``.
- ``GET /{v}/batches/ID``, ``GET /{v}/batches?pageSize=&pageToken=`` (``{"operations": [...]}``),
  ``POST /{v}/batches/ID:cancel``.
- ``POST /upload/{v}/files`` (resumable: ``X-Goog-Upload-Command: start`` answers an
  ``x-goog-upload-url`` header; ``upload, finalize`` to it answers ``{"file": {...}}``) and
  ``GET /{v}/files/ID:download?alt=media`` for a job's ``responsesFile``.

A job is pending for the first half of ``delay_s``, running for the second (or held in
one of those states while ``hold`` names it, for tests that watch states move), then ends:
succeeded (inline responses for inline requests, a JSONL responses file for a file),
or expired / failed when the fake is told so. Each request is answered like
``generateContent`` would (echo or OCR), or with a per-request error when its image's
sha256 is listed. ``creates`` counts the creates each display name received.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.testing.fake_gemini_wire import (
    BadRequestError,
    error_body,
    quota_body,
    read_image_request,
    reply_envelope,
    schedule_text,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from pipeline.schema import ParsedSchedule
    from pipeline.testing.fake_gemini_options import FakeGeminiOptions
    from pipeline.testing.fake_gemini_wire import ImageRequest


class OnlineFake(Protocol):
    """What the Batch API borrows from the online fake (``fake_gemini.FakeGemini``)."""

    options: FakeGeminiOptions

    def check_key(self, request: Request) -> tuple[int, dict[str, Any]] | None: ...

    async def wait_for(self, request: Request, seconds: float) -> None: ...

    async def schedule_for(self, image: bytes | None) -> ParsedSchedule: ...

    def prompt_tokens(self, image_request: ImageRequest) -> int: ...


logger = logging.getLogger("pipeline.testing.fake_gemini")  # the fake's one log
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
PAGE_SIZE = 50


class FakeBatchOptions(BaseModel):
    """How the fake's Batch API behaves."""

    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(default=0.0, ge=0, description="create to done: pending half, running half")
    hold: Literal["pending", "running"] | None = Field(
        default=None, description="jobs go no further than this state until configured otherwise"
    )
    expire_jobs: frozenset[int] = Field(default=frozenset(), description="the Nth jobs created expire")
    fail_jobs: frozenset[int] = Field(default=frozenset(), description="the Nth jobs created fail whole")
    fail_images: frozenset[str] = Field(
        default=frozenset(), description="sha256 of images whose request gets a per-request error"
    )
    overloaded_images: frozenset[str] = Field(
        default=frozenset(), description="sha256 of images whose request gets a per-request 503"
    )
    create_429s: int = Field(default=0, ge=0, description="the first N creates are answered 429")
    create_retry_delay_s: float = Field(default=1.0, ge=0, description="the retryDelay of those 429s")
    create_reply_delay_s: float = Field(
        default=0.0, ge=0, description="a create is recorded at once but answered this much later"
    )


@dataclass
class FakeJob:
    """One batch job: its requests, and once done its answers."""

    name: str
    display_name: str
    model: str
    ordinal: int
    created: float
    lines: list[dict[str, Any]]  # {"key"?, "metadata"?, "request"}
    from_file: bool
    state: str = "PENDING"
    ended: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    responses_file: str | None = None
    work: asyncio.Task[None] | None = None


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


class FakeBatches:
    """The Batch and Files API state of one fake server."""

    def __init__(self, fake: OnlineFake) -> None:
        self.fake = fake
        self.options = FakeBatchOptions()
        self.jobs: dict[str, FakeJob] = {}
        self.files: dict[str, bytes] = {}
        self.creates: Counter[str] = Counter()
        self._uploads: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._creates_seen = 0

    def configure(self, options: FakeBatchOptions) -> None:
        """New behaviour; ``create_429s`` counts creates from now on, jobs and files stay."""
        self.options = options
        self._creates_seen = 0

    @property
    def create_requests(self) -> int:
        """Creates received since the last ``configure``, answered 429 or not."""
        return self._creates_seen

    def routes(self) -> list[Route]:
        return [
            Route("/{version}/models/{model}:batchGenerateContent", self._create, methods=["POST"]),
            Route("/{version}/batches/{job}:cancel", self._cancel, methods=["POST"]),
            Route("/{version}/batches/{job}", self._get, methods=["GET"]),
            Route("/{version}/batches", self._list, methods=["GET"]),
            Route("/upload/{version}/files", self._upload, methods=["POST"]),
            Route("/{version}/files/{file}:download", self._download, methods=["GET"]),
        ]

    # --- batches -----------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        model = request.path_params["model"]
        self._creates_seen += 1
        if self._creates_seen <= self.options.create_429s:
            body = quota_body(model, self.options.create_retry_delay_s, None, free_tier=False)
            return _json(body, 429)
        try:
            batch = json.loads(await request.body())["batch"]
            lines, from_file = self._request_lines(batch["inputConfig"])
        except (KeyError, TypeError, ValueError) as exc:
            return _json(error_body(400, "INVALID_ARGUMENT", f"bad batch: {exc}"), 400)
        with self._lock:
            ordinal = len(self.jobs) + 1
            name = f"batches/{uuid.uuid4().hex[:16]}"
            display_name = str(batch.get("displayName", ""))
            job = FakeJob(name, display_name, f"models/{model}", ordinal, time.time(), lines, from_file)
            self.jobs[name] = job
            self.creates[display_name] += 1
        logger.info("batch create %s (%s): %d requests", name, display_name, len(lines))
        if self.options.create_reply_delay_s:
            try:
                await self.fake.wait_for(request, self.options.create_reply_delay_s)
            except Exception:  # the client hung up (killed): the job stays created, as at Google
                return Response(status_code=499)
        return _json(self._operation(job))

    def _request_lines(self, input_config: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        if "fileName" in input_config:
            data = self.files[str(input_config["fileName"])]
            return [json.loads(line) for line in data.splitlines() if line.strip()], True
        return list(input_config["requests"]["requests"]), False

    async def _get(self, request: Request) -> Response:
        job = self._job(request)
        if not isinstance(job, FakeJob):
            return job
        await self._advance(job)
        return _json(self._operation(job))

    async def _list(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        size = int(request.query_params.get("pageSize", PAGE_SIZE))
        start = int(request.query_params.get("pageToken") or 0)
        jobs = sorted(self.jobs.values(), key=lambda job: -job.ordinal)  # newest first
        for job in jobs[start : start + size]:
            await self._advance(job)
        body: dict[str, Any] = {"operations": [self._operation(job) for job in jobs[start : start + size]]}
        if start + size < len(jobs):
            body["nextPageToken"] = str(start + size)
        return _json(body)

    async def _cancel(self, request: Request) -> Response:
        job = self._job(request)
        if not isinstance(job, FakeJob):
            return job
        if job.state not in TERMINAL_STATES:
            job.state, job.ended = "CANCELLED", time.time()
        return _json({})

    def _refused(self, request: Request) -> Response | None:
        """The answer to a request with a bad key, as the online fake gives it; None if the key is good."""
        refused = self.fake.check_key(request)
        return _json(refused[1], refused[0]) if refused is not None else None

    def _job(self, request: Request) -> FakeJob | Response:
        """The job the path names, or the refusal (a bad key, no such job)."""
        if (refused := self._refused(request)) is not None:
            return refused
        job = self.jobs.get(f"batches/{request.path_params['job']}")
        if job is None:
            return _json(error_body(404, "NOT_FOUND", "Requested entity was not found."), 404)
        return job

    async def _advance(self, job: FakeJob) -> None:
        """Move the job along its clock; answer its requests when it succeeds."""
        if job.state in TERMINAL_STATES:
            return
        elapsed = time.time() - job.created
        if elapsed < self.options.delay_s / 2 or self.options.hold == "pending":
            return
        if elapsed < self.options.delay_s or self.options.hold == "running":
            job.state = "RUNNING"
            return
        if job.ordinal in self.options.expire_jobs | self.options.fail_jobs:
            job.ended = time.time()
            job.state = "EXPIRED" if job.ordinal in self.options.expire_jobs else "FAILED"
            return
        job.state = "RUNNING"
        if self.fake.options.extract == "echo":  # quick: answered at once
            await self._finish(job)
        elif job.work is None:  # OCR is slow: answered in the background, a get never waits for it
            job.work = asyncio.create_task(self._finish(job))

    async def _finish(self, job: FakeJob) -> None:
        answers = [await self._answer(line, job.model) for line in job.lines]
        if job.state == "CANCELLED":
            return
        if job.from_file:
            job.responses_file = f"files/batch-{uuid.uuid4().hex[:12]}"
            self.files[job.responses_file] = "".join(json.dumps(a) + "\n" for a in answers).encode()
        job.answers, job.ended, job.state = answers, time.time(), "SUCCEEDED"

    async def _answer(self, line: dict[str, Any], model: str) -> dict[str, Any]:
        """One request's response (or per-request error), with its key or metadata echoed."""
        echoed: dict[str, Any] = {name: line[name] for name in ("key", "metadata") if name in line}
        try:
            image_request = read_image_request(line.get("request"))
            if image_request.image is not None:
                digest = hashlib.sha256(image_request.image).hexdigest()
                if digest in self.options.fail_images:
                    message = "Unable to process input image. Please retry or report the problem."
                    return {**echoed, "error": {"code": 400, "message": message}}
                if digest in self.options.overloaded_images:
                    message = "The model is overloaded. Please try again later."
                    return {**echoed, "error": {"code": 503, "message": message}}
            schedule = await self.fake.schedule_for(image_request.image)
        except BadRequestError as exc:
            return {**echoed, "error": {"code": 400, "message": str(exc)}}
        prompt_tokens = self.fake.prompt_tokens(image_request)
        response = reply_envelope(
            schedule_text(schedule), "STOP", model.removeprefix("models/"), prompt_tokens
        )
        return {**echoed, "response": response}

    def _operation(self, job: FakeJob) -> dict[str, Any]:
        """The job as Google's Operation: everything the SDK reads sits in ``metadata``."""
        failed = sum("error" in answer for answer in job.answers)
        done = len(job.answers)
        metadata: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": job.model,
            "displayName": job.display_name,
            "name": job.name,
            "state": f"BATCH_STATE_{job.state}",
            "createTime": _stamp(job.created),
            "updateTime": _stamp(job.ended or time.time()),
            "batchStats": {
                "requestCount": str(len(job.lines)),
                "successfulRequestCount": str(done - failed),
                "failedRequestCount": str(failed),
                "pendingRequestCount": str(len(job.lines) - done),
            },
        }
        if job.ended is not None:
            metadata["endTime"] = _stamp(job.ended)
        if job.state == "SUCCEEDED":
            if job.responses_file is not None:
                metadata["output"] = {"responsesFile": job.responses_file}
            else:
                metadata["output"] = {"inlinedResponses": {"inlinedResponses": job.answers}}
        return {"name": job.name, "metadata": metadata, "done": job.state in TERMINAL_STATES}

    # --- files -----------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        command = request.headers.get("x-goog-upload-command", "")
        if command == "start":
            if (refused := self._refused(request)) is not None:
                return refused
            upload_id = uuid.uuid4().hex[:12]
            declared = json.loads(await request.body() or b"{}").get("file", {})
            self._uploads[upload_id] = {"declared": declared, "data": b""}
            url = f"{request.base_url}upload/{request.path_params['version']}/files?upload_id={upload_id}"
            return _json({}, headers={"x-goog-upload-url": url, "x-goog-upload-status": "active"})
        upload = self._uploads.get(request.query_params.get("upload_id", ""))
        if upload is None:
            return _json(error_body(404, "NOT_FOUND", "unknown upload"), 404)
        upload["data"] += await request.body()
        if "finalize" not in command:
            return _json({}, headers={"x-goog-upload-status": "active"})
        name = f"files/{uuid.uuid4().hex[:12]}"
        self.files[name] = upload["data"]
        declared = upload["declared"]
        file = {
            "name": name,
            "displayName": declared.get("displayName", ""),
            "mimeType": declared.get("mimeType", "application/octet-stream"),
            "sizeBytes": str(len(upload["data"])),
            "state": "ACTIVE",
            "sha256Hash": base64.b64encode(hashlib.sha256(upload["data"]).digest()).decode(),
            "uri": f"{request.base_url}v1beta/{name}",
        }
        return _json({"file": file}, headers={"x-goog-upload-status": "final"})

    async def _download(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        data = self.files.get(f"files/{request.path_params['file']}")
        if data is None:
            return _json(error_body(404, "NOT_FOUND", "Requested entity was not found."), 404)
        return Response(data, media_type="application/octet-stream")
