"""``batch --via gemini-batch``: the batch job through Gemini's Batch API, resumable, at half price.

Intake is the batch job's (``list_inputs``, the same reading and validation, the
result cache, skipping inputs OUTPUT already answered); the images still needing
an answer become Batch API requests keyed by their sha256, grouped into jobs
under the per-job limits (``gemini.batch``). Every job is written to
``OUTPUT/batch-manifest.json`` before its create is sent and again with its name
after: a run that finds a job without a name looks it up by display name
(``batches.list``) before creating it, so a crash at any point, then the same
command, polls the recorded jobs and never submits an image twice. Answers take
the online road: reply reading and repair, ``clean_schedule``, shards, the
cache, ``combined.json`` (batch answers priced at batch prices). With a
deadline (counted from the round's first run, as the manifest records it), jobs
still out near it are cancelled and every image left without an answer goes
through the online path (``online``, the batch job's dispatcher on the shared
budget) until the deadline; without one, or past it, it ends failed with a
clear code. Each run's state is published (``publish_batch_api``) as it moves.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.gemini.backend import GeminiOptions, generation_config
from pipeline.backends.gemini.batch import (
    FILE_LIMIT_BYTES,
    INLINE_LIMIT_BYTES,
    TERMINAL,
    Answer,
    BatchRequest,
    GeminiBatchClient,
    build_request,
    display_name_for,
)
from pipeline.batch import BatchOptions, BatchSummary, PriorOutcomes, check_output, write_combined
from pipeline.batch_api_results import WORKER, BatchApiResults, failed_result, worker_of
from pipeline.batch_api_spool import JobSpool
from pipeline.batch_manifest import BatchManifest, ManifestEntry, ManifestJob
from pipeline.cache import ResultCache
from pipeline.errors import BackendError, ImageRejected
from pipeline.images import ImagePayload, open_image, read_uri
from pipeline.progress import BatchApiProgress, publish_batch_api
from pipeline.schema import ErrorCode, ExtractContext
from pipeline.sources import list_inputs
from pipeline.worker import WorkerOptions, cached_result

log = logging.getLogger(__name__)

__all__ = ["WORKER", "BatchApiOptions", "BatchApiRun", "run_batch_api"]
JOB_FILE_BYTES = 200_000_000  # Google takes 2 GB files; smaller ones upload (and upload again) sooner


LATE = "found after the deadline's Batch API share had passed, so never put in a job"


class BatchApiOptions(BaseModel):
    """How the Batch API path groups, polls and falls back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_requests_per_job: int = Field(default=1000, ge=1, description="requests per job, at most")
    inline_limit_bytes: int = Field(default=INLINE_LIMIT_BYTES, ge=1, description="larger jobs go as a file")
    file_limit_bytes: int = Field(
        default=JOB_FILE_BYTES,
        ge=1,
        le=FILE_LIMIT_BYTES,
        description="bytes of one job's requests, at most (past the inline limit, a temporary file)",
    )
    poll_initial_s: float = Field(default=5.0, gt=0, description="first wait between polls")
    poll_max_s: float = Field(default=60.0, gt=0, description="longest wait between polls")
    deadline_s: float | None = Field(
        default=None, gt=0, description="seconds from the round's first run (the manifest's) for every answer"
    )
    online_share: float = Field(
        default=0.2, gt=0, lt=1, description="the deadline's last share, left to the online path"
    )


class BatchApiRun:
    """One run of the Batch API path over OUTPUT (state lives in the manifest and the shards)."""

    def __init__(
        self,
        options: BatchOptions,
        api: BatchApiOptions,
        backend: GeminiOptions,
        client: GeminiBatchClient,
        on_progress: Callable[[BatchApiProgress], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        worker: WorkerOptions | None = None,
    ) -> None:
        self.options, self.api, self.backend, self.client = options, api, backend, client
        worker = worker or WorkerOptions()  # the same size and pixel limits as the workers'
        self.max_bytes, self.max_pixels = worker.max_bytes, worker.max_pixels
        self.on_progress = on_progress or (lambda progress: None)
        self.sleep = sleep
        self.context = (
            ExtractContext(reference_date=options.reference_date) if options.reference_date else None
        )
        self.identity = backend.cache_identity(self.context)
        self.config = generation_config(backend)  # one for every request: building one is slow
        self.cache = (
            ResultCache(Path(options.cache_path), similar=options.similar_cache)
            if options.cache_path
            else None
        )
        self.manifest = BatchManifest.read(options.output)
        if self.manifest.started_at is None or options.retry_failed:  # a new round: its own deadline
            self.manifest.started_at = dt.datetime.now(dt.UTC)
        if api.deadline_s is not None:  # counted from the round's first run, not from this one
            self.manifest.deadline_s = api.deadline_s
        self.progress = BatchApiProgress(job_id=self.manifest.job_id)
        for job in self.manifest.jobs:  # jobs an earlier run left out: this run waits on them
            if not job.collected:
                self.progress.job(job.display_name, job.state, job.name, images=len(job.entries))
                self.progress.images += len(job.entries)
        self.results = BatchApiResults(
            options, backend, self.identity, self.cache, self.progress, self.max_bytes
        )
        # Entries without a final answer: no answer at all, or a transient error (as online, worth
        # another attempt); with a deadline they go online, else they end failed.
        self.unanswered: list[tuple[ManifestEntry, ManifestJob, BackendError | None]] = []
        # Images found after the deadline's Batch API share had passed: no job (it would only be
        # cancelled at its first poll); they go straight to the online path.
        self.late: list[ManifestEntry] = []

    def run(self, online: Callable[[dt.datetime, frozenset[str]], None] | None = None) -> BatchSummary:
        """Submit what needs an answer, poll every job to its end, collect, fall back, summarise.

        ``online(deadline, sources)``: the online path over these sources (each without an answer
        here, whatever an earlier round left), handing out no image after ``deadline``.
        """
        deadline = self.manifest.deadline_at
        try:
            self.manifest.write(self.options.output)  # the round's start, before any create
            self._resume_creates()
            self._submit_new()
            self._poll()
            if online is None or deadline is None:
                for entry, job, error in self.unanswered:
                    self.results.unanswered(entry, job, error)
                for entry in self.late:
                    self.results.write(
                        failed_result(entry.index, entry.source, entry.sha256, "timeout", LATE, 0)
                    )
        finally:
            self.results.close()
        if (self.unanswered or self.late) and online is not None and deadline is not None:
            self._fall_back(online, deadline)
        summary = write_combined(self.options.output, self.backend, self.results.cost_of)
        self.progress.status = "done"
        self._report()
        return summary

    def _fall_back(
        self, online: Callable[[dt.datetime, frozenset[str]], None], deadline: dt.datetime
    ) -> None:
        """The unanswered images online until the deadline; those it did not reach end ``timeout``."""
        left = [(entry, job) for entry, job, _ in self.unanswered] + [(entry, None) for entry in self.late]
        self.progress.online = len({entry.source for entry, _ in left})
        self._report()
        before = self.results.count
        if dt.datetime.now(dt.UTC) < deadline:
            online(deadline, frozenset(entry.source for entry, _ in left))
        after = BatchApiResults(
            self.options, self.backend, self.identity, self.cache, self.progress, self.max_bytes
        )
        try:
            for entry, job in left:
                if entry.source in after.succeeded or after.count[entry.source] > before[entry.source]:
                    self.progress.answered += entry.source in after.succeeded  # online: in the shards
                    self.progress.failed += entry.source not in after.succeeded
                    continue
                why = LATE if job is None else f"its Batch API job {job.name} ended {job.state.upper()}"
                message = (
                    f"no answer by the deadline {deadline:%Y-%m-%d %H:%M:%S} UTC: {why} "
                    "and the online path did not reach it in time"
                )
                result = failed_result(entry.index, entry.source, entry.sha256, "timeout", message, 0)
                after.write(result if job is None else result.model_copy(update={"worker": worker_of(job)}))
        finally:
            after.close()
            self.progress.online = 0

    def _report(self) -> None:
        self.on_progress(self.progress)
        publish_batch_api(self.progress)

    # --- submitting ----------------------------------------------------------------

    def _resume_creates(self) -> None:
        """Jobs recorded before a create whose reply never came back: found by name, or created."""
        for job in self.manifest.jobs:
            if job.name is not None:
                continue
            found = self.client.find(job.display_name)
            if found is None:  # sent as recorded: inline, or as a file
                with JobSpool(self.client, float("inf") if job.inline else 0) as spool:
                    for request in self._requests_of(job.entries):
                        spool.add(request)
                    found = spool.create(job.display_name)
            job.name, job.state = found.name, found.state
            self.manifest.write(self.options.output)
            self.progress.job(job.display_name, job.state, job.name)
            self._report()

    def _requests_of(self, entries: list[ManifestEntry]) -> Iterator[BatchRequest]:
        seen: set[str] = set()
        for entry in entries:
            if entry.sha256 in seen:
                continue
            seen.add(entry.sha256)
            payload = read_uri(entry.source, entry.index, max_bytes=self.max_bytes)
            image = open_image(payload, max_pixels=self.max_pixels)
            yield build_request(self.backend, image, self.context, entry.sha256, self.config)

    def _submit_new(self) -> None:
        # Entries of collected jobs have their results in the shards (``prior`` sees them).
        open_jobs = [job for job in self.manifest.jobs if not job.collected]
        in_jobs = {entry.source for job in open_jobs for entry in job.entries}
        key_job = {entry.sha256: job for job in open_jobs for entry in job.entries}
        prior = PriorOutcomes.read(self.options.output)
        spool = JobSpool(self.client, self.api.inline_limit_bytes)  # the job being built
        entries: list[ManifestEntry] = []
        too_late = self._batch_time_left_s() <= 0
        try:
            for index, source in enumerate(list_inputs(self.options.input)):
                if source in in_jobs or prior.skips(source, self.options.retry_failed):
                    continue
                request = self._intake(index, source)
                if request is None:
                    continue
                entry = ManifestEntry(index=index, source=source, sha256=request.key)
                if too_late:
                    self.late.append(entry)
                    continue
                if request.key in key_job:  # the same content already asked: one answer for both
                    job = key_job[request.key]
                    job.entries.append(entry)
                    self.progress.images += 1
                    self.progress.job(job.display_name, job.state, images=len(job.entries))
                    continue
                if request.key in spool:
                    entries.append(entry)
                    continue
                if len(spool) and self._full(spool, request):
                    self._create(spool, entries)
                    key_job.update({entry.sha256: self.manifest.jobs[-1] for entry in entries})
                    spool, entries = JobSpool(self.client, self.api.inline_limit_bytes), []
                spool.add(request)
                entries.append(entry)
            if len(spool):
                self._create(spool, entries)
        finally:
            spool.discard()
        self.manifest.write(self.options.output)

    def _full(self, spool: JobSpool, request: BatchRequest) -> bool:
        size = spool.bytes + request.wire_bytes
        return len(spool) >= self.api.max_requests_per_job or size > self.api.file_limit_bytes

    def _intake(self, index: int, source: str) -> BatchRequest | None:
        """The image's request; None when it was answered here (rejected, or from the cache)."""
        payload: ImagePayload | None = None
        try:
            payload = read_uri(source, index, max_bytes=self.max_bytes)
            if self.cache is not None:  # the exact image, else a near-copy, as the workers look
                hit = self.cache.lookup(payload.sha256, payload.data, self.identity)
                if hit is not None:
                    self.progress.images += 1
                    self.results.write(cached_result(payload, hit.schedule, hit.similar_to))
                    return None
            image = open_image(payload, max_pixels=self.max_pixels)
            return build_request(self.backend, image, self.context, payload.sha256, self.config)
        except (ImageRejected, BackendError) as exc:
            code: ErrorCode = exc.code
            sha = payload.sha256 if payload is not None else None
            self.progress.images += 1
            self.results.write(failed_result(index, source, sha, code, str(exc), attempts=0))
            return None

    def _create(self, spool: JobSpool, entries: list[ManifestEntry]) -> None:
        inline = spool.inline
        name = display_name_for(spool.keys, self.identity)
        earlier = sum(job.display_name.startswith(name) for job in self.manifest.jobs)
        name = f"{name}-{earlier}"  # the same images again (--retry-failed): never an old job's name
        job = ManifestJob(
            display_name=name, entries=entries, inline=inline, created_at=dt.datetime.now(dt.UTC)
        )
        self.manifest.jobs.append(job)
        self.manifest.write(self.options.output)  # before the create: a lost reply is found by name
        self.progress.job(name, job.state, images=len(entries))
        self.progress.images += len(entries)
        view = spool.create(name)
        job.name, job.state = view.name, view.state
        self.manifest.write(self.options.output)
        self.progress.job(name, view.state, view.name)
        self._report()

    # --- polling and collecting ----------------------------------------------------------

    def _poll(self) -> None:
        wait_s = self.api.poll_initial_s
        while True:
            open_jobs = [job for job in self.manifest.jobs if not job.collected]
            if not open_jobs:
                return
            for job in open_jobs:
                assert job.name is not None
                try:
                    view = self.client.get(job.name)
                except BackendError as exc:
                    if not exc.retryable:
                        raise
                    log.warning("polling %s: %s; polling again later", job.name, exc.message)
                    continue
                job.state = view.state
                self.progress.job(job.display_name, view.state, view.name)
                if view.state in TERMINAL:
                    self._collect(job, self.client.answers(view) if view.state == "succeeded" else iter(()))
            self.manifest.write(self.options.output)
            self._report()
            left_s = self._batch_time_left_s()
            if left_s <= 0:
                self._abandon([job for job in self.manifest.jobs if not job.collected])
                return
            if any(not job.collected for job in self.manifest.jobs):
                self.sleep(min(wait_s, left_s))
                wait_s = min(wait_s * 1.5, self.api.poll_max_s)

    def _batch_time_left_s(self) -> float:
        """Seconds until the deadline's last share (left to the online path); inf without a deadline."""
        deadline, deadline_s = self.manifest.deadline_at, self.manifest.deadline_s
        if deadline is None or deadline_s is None:
            return float("inf")
        cut = deadline - dt.timedelta(seconds=deadline_s * self.api.online_share)
        return (cut - dt.datetime.now(dt.UTC)).total_seconds()

    def _abandon(self, jobs: list[ManifestJob]) -> None:
        """Jobs still out near the deadline: cancelled, their images left to the online path."""
        for job in jobs:
            assert job.name is not None
            self.client.cancel(job.name)
            job.state = "cancelled"
            self.progress.job(job.display_name, job.state)
            self._collect(job, iter(()))
        self.manifest.write(self.options.output)
        self._report()

    def _collect(self, job: ManifestJob, answers: Iterator[Answer]) -> None:
        """Each entry's result from its key's answer, once; entries without one are unanswered."""
        by_key = {answer.key: answer for answer in answers}
        billed: set[str] = set()
        for entry in job.entries:
            if self.results.done(entry, job):
                self.progress.images -= 1  # collected by an earlier run that stopped before marking the job
                continue
            answer = by_key.get(entry.sha256)
            if answer is None or (answer.error is not None and answer.error.retryable):
                self.unanswered.append((entry, job, answer.error if answer else None))
                continue
            usage = answer.usage if entry.sha256 not in billed else None  # billed once per request
            billed.add(entry.sha256)
            self.results.answered(entry, answer, usage, job)
        job.collected = True
        self.manifest.write(self.options.output)


def run_batch_api(
    options: BatchOptions,
    api: BatchApiOptions,
    backend: GeminiOptions,
    client: GeminiBatchClient | None = None,
    on_progress: Callable[[BatchApiProgress], None] | None = None,
    online: Callable[[dt.datetime, frozenset[str]], None] | None = None,
    worker: WorkerOptions | None = None,
) -> BatchSummary:
    """Run (or resume) the Batch API path over ``options.output``; returns what combined.json holds."""
    check_output(options.output)
    own = client is None
    client = client or GeminiBatchClient(backend)
    try:
        return BatchApiRun(options, api, backend, client, on_progress, worker=worker).run(online)
    finally:
        if own:
            client.close()
