"""The batch job: stream a large listing through the supervised pool into JSONL shards.

The driver lists INPUT lazily and hands workers ``ImageRef``s (they read the
bytes themselves), so neither the listing nor the images ever sit whole in the
driver. Each finished result is appended at once as one JSON line to this
run's shard under OUTPUT; a crash can leave only a last line without its
newline, which readers skip. ``--resume`` reads the shards back and skips every
input that already succeeded; ``combined.json`` and ``failures.jsonl`` are
recomputed from all shards at the end.

Gemini batches draw on the cluster's one request budget, like ``parse`` and
``serve``, and workers answer images from the result cache by content hash,
so a second run, or an image renamed since, costs no request; near-copies
(resized, re-compressed, cropped) are answered too unless ``similar_cache`` is off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.backends.base import BackendOptions
from pipeline.errors import ConfigError, OutputError
from pipeline.images import ImageRef
from pipeline.local_files import SkippedFiles
from pipeline.plan import JobPlan
from pipeline.pool import SupervisedPool, start_fleet
from pipeline.reduce import ScheduleReducer
from pipeline.runner import WorkerFleet
from pipeline.schema import ExtractContext, ImageResult, ParsedSchedule, Usage, WireModel
from pipeline.settings import get_settings
from pipeline.sources import list_inputs
from pipeline.worker import ImageTask

log = logging.getLogger(__name__)

SHARD_PREFIX = "results-"


class BatchOptions(BaseModel):
    """One batch job, as the operator asked for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: str = Field(description="a directory, glob, list file or cloud prefix")
    output: str = Field(description="a local directory or cloud prefix for shards and combined.json")
    resume: bool = Field(default=False, description="skip inputs that already succeeded in OUTPUT")
    retry_failed: bool = Field(default=False, description="with resume: process failed inputs again")
    read_ahead: int | None = Field(default=None, ge=1, description="listed items not yet finished, at most")
    shard_size: int = Field(default=1000, ge=1, description="results per shard object on cloud storage")
    cache_path: str | None = Field(
        default=None, description="result cache the workers consult (a path on each node); None: none"
    )
    similar_cache: bool = Field(default=True, description="the workers' cache also answers near-copies")
    reference_date: dt.date | None = Field(
        default=None,
        description="the day dates without a year are read against (default: capture date, today)",
    )
    stop_at: dt.datetime | None = Field(
        default=None, description="no input is handed to a worker after this time (a deadline); None: none"
    )
    only: frozenset[str] | None = Field(
        default=None, description="these sources only (the Batch API path's leftovers); None: every one"
    )


class BatchSummary(WireModel):
    """combined.json: the merged schedule and counts, recomputed from every shard."""

    data: ParsedSchedule
    total_images: int
    successful_images: int
    failed_images: int
    failures_by_code: dict[str, int]
    cached_images: int = 0
    usage: Usage = Field(default_factory=Usage, description="tokens of the results merged")
    estimated_cost: float = Field(default=0.0, description="US dollars, at the configured prices")
    shards: list[str]
    finished_at: dt.datetime


class ShardLine(WireModel):
    """One line of a shard: a result and the run that wrote it."""

    run_id: str
    result: ImageResult


@dataclass
class BatchCounts:
    """What this run did so far, for the progress display."""

    started: float = field(default_factory=time.monotonic)
    skipped: int = 0
    done: int = 0
    failed: int = 0
    cached: int = 0
    usage: Usage = field(default_factory=Usage)
    not_images: SkippedFiles = field(default_factory=SkippedFiles)  # files the listing passed over

    def add(self, result: ImageResult) -> None:
        self.done += 1
        self.failed += 0 if result.success else 1
        self.cached += result.status == "cached"
        if result.usage is not None:
            self.usage += result.usage

    def line(self) -> str:
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        return (
            f"{self.done} done, {self.failed} failed, {self.cached} cached, {self.skipped} skipped, "
            f"{rate:.1f} images/s, {self.usage.prompt_tokens + self.usage.output_tokens} tokens"
        )


@contextlib.contextmanager
def _output_io(path: str, doing: str = "write") -> Iterator[None]:
    """Turn an I/O error on the batch's output into one ``OutputError`` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise OutputError(path, exc, doing) from exc


class ShardWriter:
    """Appends results as JSON lines: one flushed write a line on local disks,
    whole shard objects of ``shard_size`` lines on object stores (no append there).

    An I/O error raises ``OutputError`` (naming the shard) once; after it, ``close``
    stays quiet, so the operator sees one line, not a chain of tracebacks.
    """

    def __init__(self, output: str, run_id: str, shard_size: int) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(output)
        self.fs.makedirs(self.root, exist_ok=True)
        self.run_id = run_id
        self.local = "file" in _protocols(self.fs)
        self.shard_size = shard_size
        self._buffer: list[str] = []
        self._shards = 0
        self._handle: IO[str] | None = None
        self.broken = False
        self.path = f"{self.root}/{SHARD_PREFIX}{self.run_id}.jsonl"

    def write(self, result: ImageResult) -> None:
        line = ShardLine(run_id=self.run_id, result=result).model_dump_json(by_alias=True) + "\n"
        if not self.local:
            self._buffer.append(line)
            if len(self._buffer) >= self.shard_size:
                self._flush_shard()
            return
        try:
            self._append(line)
        except OSError as exc:
            self.broken = True
            raise OutputError(self.path, exc) from exc

    def _append(self, line: str) -> None:
        if self._handle is None:  # opened on the first result: a run with nothing to do leaves no shard
            self._handle = self.fs.open(self.path, "a", encoding="utf-8")
        self._handle.write(line)  # one write of a whole line, then flush: a crash cuts at most the end
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError as exc:
                if not self.broken:  # the first error was said already; a second one adds nothing
                    raise OutputError(self.path, exc) from exc
        elif self._buffer and not self.broken:
            self._flush_shard()

    def _flush_shard(self) -> None:
        path = f"{self.root}/{SHARD_PREFIX}{self.run_id}-{self._shards:05d}.jsonl"
        try:
            self.fs.pipe(path, "".join(self._buffer).encode())
        except OSError as exc:
            self.broken = True
            raise OutputError(path, exc) from exc
        self._shards += 1
        self._buffer.clear()


def _protocols(fs: object) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def read_shards(output: str) -> Iterator[ImageResult]:
    """Every result in OUTPUT's shards, oldest shard first.

    Shards are read as bytes: a line cut by a crash (even inside a multibyte
    character), or one that is not valid UTF-8 or not a result, is skipped with
    a warning instead of stopping the job.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(output)
    if not fs.exists(root):
        return
    for path in sorted(fs.glob(f"{root}/{SHARD_PREFIX}*.jsonl")):
        with _output_io(path, "read"), fs.open(path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    yield ShardLine.model_validate_json(line).result
                except (ValidationError, UnicodeDecodeError, ValueError):
                    log.warning(
                        "%s line %d is cut or not a result (a crash mid-write?); skipped", path, number
                    )


def check_output(output: str) -> None:
    """Fail before any work when OUTPUT cannot be written (or its object store cannot be reached).

    Raises:
        ConfigError: the location is read-only, missing its parent, or unreachable.
    """
    import fsspec

    probe = f".write-check-{uuid.uuid4().hex[:8]}"
    try:
        fs, root = fsspec.core.url_to_fs(output)
        fs.makedirs(root, exist_ok=True)
        fs.pipe(f"{root}/{probe}", b"")
        fs.rm(f"{root}/{probe}")
    except Exception as exc:  # PermissionError, FileNotFoundError, botocore's and gcsfs' own
        raise ConfigError(f"cannot write to --output {output}: {type(exc).__name__}: {exc}") from exc


@dataclass
class PriorOutcomes:
    """What earlier runs recorded: sources that succeeded and those whose last try failed."""

    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, output: str) -> PriorOutcomes:
        prior = cls()
        for result in read_shards(output):
            if result.success:
                prior.succeeded.add(result.source)
                prior.failed.discard(result.source)
            elif result.source not in prior.succeeded:
                prior.failed.add(result.source)
        return prior

    def skips(self, source: str, retry_failed: bool) -> bool:
        return source in self.succeeded or (source in self.failed and not retry_failed)


def run_batch(
    options: BatchOptions,
    plan: JobPlan,
    on_progress: Callable[[BatchCounts], None] | None = None,
    fleet: WorkerFleet | None = None,
) -> BatchSummary:
    """Run the job on the connected Ray cluster; returns what combined.json holds.

    A caller may lend a ``fleet`` of warm workers (it stays open afterwards);
    otherwise one of ``plan.pool.workers`` actors is started and closed here.
    """
    check_output(options.output)
    prior = PriorOutcomes.read(options.output) if options.resume else PriorOutcomes()
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    counts = BatchCounts()
    writer = ShardWriter(options.output, run_id, options.shard_size)
    own_fleet = fleet is None
    identity = plan.backend.cache_identity(None) if options.cache_path else None
    if fleet is None:
        worker = plan.worker.model_copy(
            update={
                "cache_path": options.cache_path if identity else None,
                "similar_cache": options.similar_cache,
            }
        )
        fleet = start_fleet(plan.backend, worker, plan.pool.workers, plan.rate_limit, scaling=plan.scaling)

    context = ExtractContext(reference_date=options.reference_date) if options.reference_date else None

    def tasks() -> Iterator[ImageTask]:
        for index, source in enumerate(list_inputs(options.input, counts.not_images)):
            if (options.only is not None and source not in options.only) or prior.skips(
                source, options.retry_failed
            ):
                counts.skipped += 1
                continue
            if options.stop_at is not None and dt.datetime.now(dt.UTC) >= options.stop_at:
                return  # the rest get no result here: the caller (the Batch API path) says why
            payload = ImageRef(index=index, source=source)
            yield ImageTask(
                job_id=run_id, payload=payload, context=context, cache_identity=identity, priority="bulk"
            )

    def record(result: ImageResult) -> None:
        writer.write(result)
        counts.add(result)

    try:
        tick = (lambda: on_progress(counts)) if on_progress is not None else None
        SupervisedPool(fleet, plan.pool).stream(tasks(), record, tick, read_ahead=options.read_ahead)
    finally:
        writer.close()
        if own_fleet:
            fleet.close()
    if on_progress is not None:
        on_progress(counts)
    return write_combined(options.output, plan.backend)


def write_combined(
    output: str,
    backend: BackendOptions | None = None,
    cost_of: Callable[[ImageResult], float] | None = None,
) -> BatchSummary:
    """Recompute combined.json and failures.jsonl from every shard in OUTPUT.

    ``cost_of`` prices each merged result (the Batch API's at its own prices);
    without it, all tokens are priced at the backend's online prices.

    Two passes over the shards keep memory to a few bytes per image: the first
    learns each source's outcome, the second merges the first success of each
    source and writes the last failure of each source that never succeeded.
    """
    import fsspec

    failures_of: dict[str, int] = {}
    succeeded: set[str] = set()
    for result in read_shards(output):
        if result.success:
            succeeded.add(result.source)
        else:
            failures_of[result.source] = failures_of.get(result.source, 0) + 1
    reducer = ScheduleReducer()
    usage, cached, priced = Usage(), 0, 0.0
    merged: set[str] = set()
    failures_seen: dict[str, int] = {}
    by_code: dict[str, int] = {}
    fs, root = fsspec.core.url_to_fs(output)
    failures_path = f"{root}/failures.jsonl"
    with _output_io(failures_path), fs.open(failures_path, "w", encoding="utf-8") as failed_lines:
        for result in read_shards(output):
            if result.success and result.source not in merged:
                merged.add(result.source)
                reducer.add(result.data, result.source)
                usage += result.usage or Usage()
                cached += result.status == "cached"
                priced += cost_of(result) if cost_of is not None else 0.0
            elif not result.success and result.source not in succeeded:
                failures_seen[result.source] = failures_seen.get(result.source, 0) + 1
                if failures_seen[result.source] == failures_of[result.source]:  # its last failure
                    code = result.error.code if result.error else "unknown"
                    by_code[code] = by_code.get(code, 0) + 1
                    failed_lines.write(result.model_dump_json(by_alias=True) + "\n")
    total = len(succeeded | failures_of.keys())
    summary = BatchSummary(
        data=reducer.result(),
        total_images=total,
        successful_images=len(succeeded),
        failed_images=total - len(succeeded),
        failures_by_code=by_code,
        cached_images=cached,
        usage=usage,
        estimated_cost=priced
        if cost_of is not None
        else backend.estimated_cost(usage, get_settings())
        if backend is not None
        else 0.0,
        shards=sorted(path.rsplit("/", 1)[-1] for path in fs.glob(f"{root}/{SHARD_PREFIX}*.jsonl")),
        finished_at=dt.datetime.now(dt.UTC),
    )
    with _output_io(f"{root}/combined.json"):
        fs.pipe(f"{root}/combined.json", summary.to_wire_json(indent=2).encode())
    return summary
