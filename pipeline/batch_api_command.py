"""``karaoke-pipeline batch --via gemini-batch``: the Batch API path, and the online path after it.

Kept apart from ``cli`` (argument parsing and printing) and ``batch_api`` (the
path itself): this wires the two together. The Batch API part needs no Ray; with
a cluster to attach to (``RAY_ADDRESS``, or the local Ray ``up`` keeps) it
attaches for the whole run, so the run's BatchProgress (each job's state) is in
the progress actor and its jobs in the metrics. Otherwise Ray starts only when
images are left for the online path near ``--deadline``, which then runs the
batch job's own dispatcher (``run_batch``) on the shared budget over the inputs
the Batch API left without an answer, until the deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from pipeline.backends.gemini.backend import GeminiOptions
    from pipeline.batch import BatchCounts, BatchOptions, BatchSummary
    from pipeline.batch_api import BatchApiOptions
    from pipeline.plan import JobPlan
    from pipeline.progress import BatchApiProgress
    from pipeline.session import LocalRuntime

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in '90s', '30m', '6h', '2d' or a bare number of seconds."""
    match = _DURATION.match(text)
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 30m, 6h, 2d)")
    return float(match[1]) * _UNIT_S[match[2]]


class BatchApiLog:
    """Each change of the jobs' states and counts as one line on stderr."""

    def __init__(self, console: Console, visible: bool) -> None:
        self.console, self.visible, self._last = console, visible, ""

    def __call__(self, progress: BatchApiProgress) -> None:
        line = progress.line()
        if self.visible and line != self._last:
            self._last = line
            self.console.print(f"batch api: {line}", soft_wrap=True)


def run_via_batch_api(
    options: BatchOptions,
    plan: JobPlan,
    api: BatchApiOptions,
    *,
    ray_address: str | None,
    runtime: LocalRuntime | None,
    on_progress: Callable[[BatchApiProgress], None],
    on_online_progress: Callable[[BatchCounts], None],
) -> BatchSummary:
    """The Batch API path over OUTPUT; near the deadline, the online path for what is left."""
    from pipeline.batch import run_batch
    from pipeline.batch_api import run_batch_api
    from pipeline.session import ray_runtime

    if plan.backend.kind != "gemini":
        raise ConfigError("--via gemini-batch needs the gemini backend (set GEMINI_API_KEY)")
    plan.backend.require_usable()

    def online(deadline: dt.datetime, sources: frozenset[str]) -> None:
        with ray_runtime(ray_address, runtime) as use_ray:
            if not use_ray:
                raise ConfigError("the online fallback needs Ray; it could not start (see the warning above)")
            # These sources, even if an earlier round failed them; one image per worker taken at a
            # time, so none is handed out after the deadline.
            update = {
                "resume": True,
                "retry_failed": True,
                "only": sources,
                "stop_at": deadline,
                "read_ahead": 1,
            }
            run_batch(options.model_copy(update=update), plan, on_online_progress)

    backend = cast("GeminiOptions", plan.backend)
    cluster = ray_runtime(ray_address, runtime) if ray_address or runtime else contextlib.nullcontext()
    with cluster:  # attached, the run is seen in the progress actor and the metrics
        return run_batch_api(
            options, api, backend, on_progress=on_progress, online=online, worker=plan.worker
        )
