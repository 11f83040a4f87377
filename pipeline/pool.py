"""Fleets on the cluster's helpers, and one run over actors leased from one.

``start_fleet`` makes a ``WorkerFleet`` that publishes to the cluster's progress actor and
draws on its one request budget. ``SupervisedPool`` leases actors from a fleet, lets one
``Dispatch`` (``pipeline.dispatch``) run the tasks over them, and gives the
actors back, the busy ones only once their image is done.

Invariant: every task handed to ``SupervisedPool.run`` yields exactly one
ImageResult, whatever happens to the actors.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pipeline.autoscale import FleetScaling
from pipeline.backends.base import BackendOptions
from pipeline.budget_actor import get_rate_limiter
from pipeline.dispatch import Dispatch, ResultCallback
from pipeline.progress import get_progress_actor
from pipeline.ratelimit import Priority, RateLimitOptions
from pipeline.runner import PoolOptions, WorkerFleet
from pipeline.schema import ImageResult
from pipeline.worker import ImageTask, WorkerOptions

if TYPE_CHECKING:
    from ray.actor import ActorHandle

    from pipeline.progress import ProgressTracker


def start_fleet(
    backend_options: BackendOptions,
    worker_options: WorkerOptions,
    size: int,
    rate_limit: RateLimitOptions | None = None,
    *,
    named: str | None = None,
    ready_only: bool = False,
    interactive_workers: int = 0,
    scaling: FleetScaling | None = None,
) -> WorkerFleet:
    """A fleet that publishes to the cluster's progress actor and, when ``rate_limit`` is given,
    takes its API calls from the cluster's one budget for those limits.

    ``named``: a warm fleet (see ``pipeline.runtime``); ``ready_only`` (a server's fleet):
    requests lease only workers that have started; ``interactive_workers``: bulk runs leave
    that many free for interactive ones (a server's fleet, shared by users and admin jobs);
    ``scaling``: the bounds it follows the load within, from ``size`` (None: pinned at ``size``)."""
    limiter = get_rate_limiter(rate_limit) if rate_limit is not None else None
    progress = get_progress_actor()
    return WorkerFleet(
        backend_options,
        worker_options,
        size,
        progress,
        limiter,
        named=named,
        ready_only=ready_only,
        interactive_workers=interactive_workers,
        scaling=scaling,
        rate_window_s=rate_limit.window_s if rate_limit is not None else 60.0,
    )


class SupervisedPool:
    """Runs one batch over actors leased from a fleet; never loses an item."""

    def __init__(self, fleet: WorkerFleet, options: PoolOptions) -> None:
        self.fleet = fleet
        self.options = options

    def run(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback | None = None,
        on_tick: Callable[[], None] | None = None,
        tracker: ProgressTracker | None = None,
    ) -> list[ImageResult]:
        """Process every task; one result per task, in the order tasks were given."""
        tasks = list(tasks)
        results: dict[int, ImageResult] = {}

        def keep(result: ImageResult) -> None:
            results[result.image_index] = result
            if on_result is not None:
                on_result(result)

        self.stream(tasks, keep, on_tick, tracker=tracker)
        order = [task.payload.index for task in tasks]
        assert sorted(results) == sorted(order), "every input must yield exactly one result"
        return [results[index] for index in order]

    def stream(
        self,
        tasks: Iterable[ImageTask],
        on_result: ResultCallback,
        on_tick: Callable[[], None] | None = None,
        read_ahead: int | None = None,
        tracker: ProgressTracker | None = None,
    ) -> int:
        """Process tasks pulled lazily from ``tasks``; each result goes to ``on_result``, none is kept.

        At most ``read_ahead`` tasks (default: the pool size) are taken from the
        iterator and not yet finished, so memory stays flat however long it is.
        ``tracker`` (when given) counts the run's progress as it happens.
        Returns how many results were delivered.
        """
        source = iter(tasks)
        first = next(source, None)
        if first is None:
            return 0
        # No wait for the leased actors to finish starting: each takes its first image as soon as
        # it is up (a backend that cannot be built fails the run, see Dispatch._on_crash).
        leased = self.fleet.lease(self.options.workers, first.priority)
        source = itertools.chain([first], source)
        run = Dispatch(self.fleet, self.options, leased, source, on_result, tracker)
        # read as far as the run's own limit, so images that wait for a worker show as load
        run.read_ahead = max(read_ahead or 0, self.options.workers)
        try:
            run.until_done(on_tick, on_pass=lambda: follow_load(run, first.priority))
        finally:
            self._give_back(run)
        return run.delivered

    @staticmethod
    def _give_back(run: Dispatch) -> None:
        """Idle actors go back at once; busy ones (a run stopped early) once their image is done.

        A busy actor handed back as free would make the next run queue behind an
        image nobody wants; its result is dropped, or it is replaced if it overruns.
        """
        run.fleet.want(run, 0)  # a run stopped early (cancelled, a failed start) waits for nothing
        run.fleet.release(_idle_actors(run))
        for ref, item in run.in_flight.items():
            run.fleet.release_when_done(item.actor, ref, item.deadline)


def follow_load(run: Dispatch, priority: Priority) -> None:
    """Between two passes of a run: its share of a fleet that follows the load.

    Images that wait for a worker the run lacks (up to its own limit, ``PoolOptions.workers``)
    are the fleet's load: the run says how many, and takes any free worker the fleet has
    (none while it holds a slot yet to open: then the budget, not workers, is what it lacks).
    Once nothing is left to send, the run gives back its idle workers at once (others may use
    them, the fleet may release them); so does a run with more workers than the budget keeps
    busy, when the fleet is over its target. Busy workers finish their image first.
    """
    fleet, now = run.fleet, time.monotonic()
    waiting = len(run.queue) + sum(1 for item in run.due if item.at <= now)
    budget_bound = any(item.at > now for item in run.due)  # a slot yet to open: workers are not short
    if run.source is None and not (waiting or run.due or run.later or run.asking):
        run.give_back(_idle_actors(run))
    elif budget_bound and (surplus := fleet.surplus()):  # more workers than the budget keeps busy
        spare = run.size - len(run.in_flight) - len(run.pending) - len(run.due)
        spares = [run.actors.pop_idle() for _ in range(min(surplus, spare))]
        run.give_back([actor for actor in spares if actor is not None])
    lacking = max(0, min(waiting - (run.size - len(run.in_flight)), run.options.workers - run.size))
    lacking = 0 if budget_bound else lacking
    fleet.want(run, lacking)
    for actor in fleet.lease_more(lacking, priority) if lacking else []:
        run.size += 1
        run.add(actor)
    if run.tracker is not None:
        run.tracker.fleet_size(fleet.size, fleet.scaling.max_workers)


def _idle_actors(run: Dispatch) -> list[ActorHandle]:
    """Take every actor of the run that holds no image (idle, or still starting) out of it."""
    idle, run.pending = list(run.pending), []
    while (actor := run.actors.pop_idle()) is not None:
        idle.append(actor)
    return idle
