"""What a Batch API run writes to OUTPUT: each image's result once, priced at batch prices.

``BatchApiResults`` reads the shards OUTPUT already holds (which source succeeded,
which job wrote a result for which source) so a run that resumes never writes a
result twice; it turns a job's answer into the ``ImageResult`` the online path
would write (cleaning, the cache) and an absent answer into a clear code.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from pipeline.backends.gemini.quotas import batch_price_for
from pipeline.batch import ShardWriter, read_shards
from pipeline.cache import cache_key
from pipeline.clean import clean_schedule
from pipeline.errors import BackendError, ImageRejected
from pipeline.images import read_uri
from pipeline.schema import ErrorCode, ImageError, ImageResult, Usage
from pipeline.settings import get_settings

if TYPE_CHECKING:
    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.backends.gemini.batch import Answer
    from pipeline.batch import BatchOptions
    from pipeline.batch_manifest import ManifestEntry, ManifestJob
    from pipeline.cache import ResultCache
    from pipeline.progress import BatchApiProgress

log = logging.getLogger(__name__)
WORKER = "gemini-batch"


def worker_of(job: ManifestJob) -> str:
    return f"{WORKER}:{job.name}"


class BatchApiResults:
    """The run's shard writer and its memory of what OUTPUT holds."""

    def __init__(
        self,
        options: BatchOptions,
        backend: GeminiOptions,
        identity: str,
        cache: ResultCache | None,
        progress: BatchApiProgress,
        max_bytes: int,
    ) -> None:
        self.backend, self.identity, self.cache, self.progress = backend, identity, cache, progress
        self.max_bytes = max_bytes
        run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.writer = ShardWriter(options.output, run_id, options.shard_size)
        # What is already written: successes, and which job (worker) wrote each result.
        self.succeeded: set[str] = set()
        self.written: set[tuple[str, str | None]] = set()
        self.count: Counter[str] = Counter()  # results per source
        for result in read_shards(options.output):
            self._seen(result)

    def write(self, result: ImageResult) -> None:
        self.writer.write(result)
        self._seen(result)
        self.progress.answered += result.success
        self.progress.failed += not result.success

    def done(self, entry: ManifestEntry, job: ManifestJob) -> bool:
        """The entry succeeded somewhere, or this job's result for it is already written."""
        return entry.source in self.succeeded or (entry.source, worker_of(job)) in self.written

    def answered(self, entry: ManifestEntry, answer: Answer, usage: Usage | None, job: ManifestJob) -> None:
        """The entry's result from its job's answer: a cleaned schedule (cached) or the answer's error."""
        if answer.error is not None or answer.schedule is None:
            error = answer.error or BackendError("bad_model_output", "no answer")
            image_error = ImageError(code=error.code, message=error.message, retryable=error.retryable)
            self.write(ImageResult(
                image_index=entry.index, source=entry.source, sha256=entry.sha256, success=False,
                status="failed", error=image_error, attempts=1, worker=worker_of(job), usage=usage,
            ))  # fmt: skip
            return
        schedule = clean_schedule(answer.schedule)
        if self.cache is not None:  # with its fingerprint (the image read again), for its near-copies
            image = self._image(entry) if self.cache.similar else None
            self.cache.put(cache_key(entry.sha256, self.identity), entry.sha256, schedule, image)
        self.write(ImageResult(
            image_index=entry.index, source=entry.source, sha256=entry.sha256, success=True,
            status="ok", attempts=1, worker=worker_of(job), usage=usage, data=schedule,
        ))  # fmt: skip

    def unanswered(self, entry: ManifestEntry, job: ManifestJob, error: BackendError | None) -> None:
        """No answer from its job (expired, failed, cancelled, or a transient error): a clear code."""
        if self.done(entry, job):
            return
        code: ErrorCode = "timeout" if job.state in ("expired", "cancelled") else "upstream_error"
        message = f"no answer: its Batch API job {job.name} ended {job.state.upper()}"
        if error is not None:
            code, message = error.code, error.message
        result = failed_result(entry.index, entry.source, entry.sha256, code, message, attempts=1)
        self.write(result.model_copy(update={"worker": worker_of(job)}))

    def _image(self, entry: ManifestEntry) -> bytes | None:
        try:
            return read_uri(entry.source, entry.index, max_bytes=self.max_bytes).data
        except (ImageRejected, OSError) as exc:  # gone since it was sent: cached by its hash only
            log.warning("no fingerprint of %s for the similar-image cache: %s", entry.source, exc)
            return None

    def cost_of(self, result: ImageResult) -> float:
        """Batch answers at batch prices, online answers at online prices."""
        usage = result.usage or Usage()
        settings = get_settings()
        if not (result.worker or "").startswith(WORKER):
            return self.backend.estimated_cost(usage, settings)
        price = batch_price_for(self.backend.model, settings)
        output = usage.output_tokens + usage.thinking_tokens
        return (usage.prompt_tokens * price.input + output * price.output) / 1_000_000

    def close(self) -> None:
        self.writer.close()

    def _seen(self, result: ImageResult) -> None:
        if result.success:
            self.succeeded.add(result.source)
        self.written.add((result.source, result.worker))
        self.count[result.source] += 1


def failed_result(
    index: int, source: str, sha256: str | None, code: ErrorCode, message: str, attempts: int
) -> ImageResult:
    return ImageResult(
        image_index=index, source=source, sha256=sha256, success=False, status="failed",
        error=ImageError(code=code, message=message), attempts=attempts, worker=WORKER,
    )  # fmt: skip
