"""Gemini's Batch API through google-genai: build requests, create, find, poll and read jobs.

A request is built by the online path's own builders (``request_contents`` and
``generation_config`` in ``gemini``), so a batch answer has the same cache
identity as an online one. Small jobs send their requests inline; past the
inline limit they go as a JSONL file through the Files API. ``create`` is not
idempotent at Google: a job carries a display name derived from its content,
and ``find`` looks it up with ``batches.list`` when a create's reply was lost.
A 429 on create means no job was made, so it is retried after its retryDelay.
No Ray here; the driver is ``pipeline.batch_api``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.backends.gemini.backend import (
    GeminiOptions,
    generation_config,
    make_client,
    read_usage,
    request_contents,
)
from pipeline.backends.gemini.errors import classify_error
from pipeline.backends.gemini.output import read_response
from pipeline.errors import BackendError
from pipeline.schema import ParsedSchedule, Usage

if TYPE_CHECKING:
    from pipeline.images import SourceImage
    from pipeline.schema import ExtractContext

log = logging.getLogger(__name__)

# Google's per-job limits (ai.google.dev/gemini-api/docs/batch-mode): 20 MB of inline requests,
# a 2 GB input file. Kept under, for the JSON envelope.
INLINE_LIMIT_BYTES = 19_000_000
FILE_LIMIT_BYTES = 1_900_000_000
JOB_STATES = ("pending", "running", "succeeded", "failed", "cancelled", "expired")
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired"})


def display_name_for(keys: list[str], identity: str) -> str:
    """A job's name from what it carries (its images' hashes and the request shaping)."""
    digest = hashlib.sha256((identity + "\n" + "\n".join(sorted(keys))).encode()).hexdigest()
    return f"karaoke-{digest[:24]}"


@dataclass(frozen=True)
class BatchRequest:
    """One image's request, keyed by its content hash, and its size on the wire (about)."""

    key: str
    inlined: Any  # google.genai.types.InlinedRequest
    wire_bytes: int


@dataclass(frozen=True)
class JobView:
    """What the driver needs of a BatchJob: its name, display name and state (lower case)."""

    name: str
    display_name: str
    state: str
    job: Any = None


@dataclass(frozen=True)
class Answer:
    """One request's outcome: a schedule (with usage) or a classified error."""

    key: str
    schedule: ParsedSchedule | None
    usage: Usage | None
    error: BackendError | None


def build_request(
    options: GeminiOptions,
    image: SourceImage,
    context: ExtractContext | None,
    key: str,
    config: Any | None = None,
) -> BatchRequest:
    """The online request for ``image`` as an inlined Batch API request with ``key`` in its metadata.

    ``config``: ``generation_config(options)``, built once by a caller with many images (it takes
    tens of milliseconds: the SDK converts the response schema).
    """
    from google.genai import types

    contents = request_contents(options, image, context)
    config = config if config is not None else generation_config(options)
    inlined = types.InlinedRequest(
        model=options.model, contents=contents, config=config, metadata={"key": key}
    )
    image_bytes = len(contents[0].inline_data.data) if contents[0].inline_data else 0
    return BatchRequest(key, inlined, image_bytes * 4 // 3 + len(contents[1]) + 4096)


def _state(job: Any) -> str:
    raw = str(getattr(job.state, "value", job.state) or "")
    return raw.removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_").lower() or "pending"


def _view(job: Any) -> JobView:
    return JobView(name=str(job.name), display_name=str(job.display_name or ""), state=_state(job), job=job)


class GeminiBatchClient:
    """The Batch and Files APIs of one google-genai client (``client_factory`` for tests)."""

    def __init__(
        self,
        options: GeminiOptions,
        client_factory: Callable[[GeminiOptions], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_create_attempts: int = 6,
    ) -> None:
        self.options = options
        self._client = (client_factory or make_client)(options)
        self._sleep = sleep
        self.max_create_attempts = max_create_attempts

    def create(self, requests: list[BatchRequest] | Path, display_name: str, inline: bool) -> JobView:
        """One job; a 429 (no job made) waits its retryDelay; an unclear failure looks before retrying.

        ``requests``: the requests, or a JSONL file of their ``jsonl_line``s (uploaded, not read here).
        """
        if isinstance(requests, Path):
            src: Any = self._upload(requests, display_name)
        else:
            src = [r.inlined for r in requests] if inline else self._upload(requests, display_name)
        for attempt in range(1, self.max_create_attempts + 1):
            try:
                job = self._client.batches.create(
                    model=self.options.model, src=src, config={"display_name": display_name}
                )
                return _view(job)
            except Exception as exc:
                error = classify_error(exc)
                if attempt == self.max_create_attempts or not error.retryable:
                    raise error from exc
                if error.code != "rate_limited":  # a 5xx or timeout may have made the job
                    found = self.find(display_name)
                    if found is not None:
                        return found
                wait_s = error.retry_after or min(2.0**attempt, 60.0)
                log.warning("batch create %s: %s; again in %.1f s", display_name, error.message, wait_s)
                self._sleep(wait_s)
        raise AssertionError("unreachable")

    def find(self, display_name: str) -> JobView | None:
        """The newest job of this display name, by ``batches.list``; None when there is none."""
        for job in self._client.batches.list(config={"page_size": 50}):
            if job.display_name == display_name:
                return _view(job)
        return None

    def get(self, name: str) -> JobView:
        try:
            return _view(self._client.batches.get(name=name))
        except Exception as exc:
            raise classify_error(exc) from exc

    def cancel(self, name: str) -> None:
        try:
            self._client.batches.cancel(name=name)
        except Exception as exc:
            raise classify_error(exc) from exc

    def answers(self, view: JobView) -> Iterator[Answer]:
        """The answers of a succeeded job, inline or from its responses file."""
        dest = getattr(view.job, "dest", None)
        if dest is None:
            return
        if dest.inlined_responses is not None:
            for item in dest.inlined_responses:
                yield _answer((item.metadata or {}).get("key", ""), item.response, item.error)
        elif dest.file_name:
            yield from self._file_answers(dest.file_name)

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def jsonl_line(self, request: BatchRequest) -> str:
        """The request as one line of a job's JSONL file (with its newline)."""
        from google.genai import _common
        from google.genai.batches import _InlinedRequest_to_mldev

        # The SDK's own converter, so a line is exactly what the inline request would send.
        wire = _InlinedRequest_to_mldev(self._client._api_client, request.inlined)
        wire = _common.encode_unserializable_types(_common.convert_to_dict(wire))
        return json.dumps({"key": request.key, "request": wire["request"]}) + "\n"

    def _upload(self, requests: list[BatchRequest] | Path, display_name: str) -> str:
        """The requests (or a JSONL file of them) as a JSONL file in the Files API; its ``files/...`` name."""
        if isinstance(requests, Path):
            file: Any = str(requests)  # the SDK reads it in chunks
        else:
            file = io.BytesIO("".join(self.jsonl_line(request) for request in requests).encode())
        try:
            uploaded = self._client.files.upload(
                file=file, config={"display_name": display_name, "mime_type": "application/jsonl"}
            )
        except Exception as exc:
            raise classify_error(exc) from exc
        return str(uploaded.name)

    def _file_answers(self, file_name: str) -> Iterator[Answer]:
        from google.genai import types

        try:
            data = self._client.files.download(file=file_name)
        except Exception as exc:
            raise classify_error(exc) from exc
        for line in data.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            response = item.get("response")
            if response is not None:
                response = types.GenerateContentResponse._from_response(response=response, kwargs={})
            error = (
                types.JobError._from_response(response=item["error"], kwargs={}) if "error" in item else None
            )
            yield _answer(str(item.get("key", "")), response, error)


def _answer(key: str, response: Any, error: Any) -> Answer:
    """A response read as online (``read_response``), or the error classified as online."""
    if error is not None or response is None:
        return Answer(key, None, None, job_error(error))
    try:
        return Answer(key, read_response(response), read_usage(response), None)
    except BackendError as exc:
        return Answer(key, None, read_usage(response), exc)


def job_error(error: Any) -> BackendError:
    """A per-request error (google.rpc.Status) as the BackendError the same HTTP error gets online."""
    from google.genai import errors

    code = int(getattr(error, "code", None) or 500)
    message = str(getattr(error, "message", None) or "no answer in the batch job")
    return classify_error(errors.APIError(code, {"error": {"code": code, "message": message}}))
