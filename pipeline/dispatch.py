"""One run over leased actors: the one send path. Slots, dispatch, collect, retry, expire.

``Dispatch`` is the state of one ``SupervisedPool.stream``. Every attempt at an
image, the first and each retry, goes the same way: for a backend that draws on
a metered budget it first gets a slot from the cluster's budget actor (asked
without blocking, answered with a time to wait), then it is handed to a worker
when the slot is due, and the worker makes exactly one request. So its deadline
counts only the time in flight, and no worker sleeps on quota. A failed attempt
goes back by the backend's ``RetryPolicy``: not before its own 429's
``retryDelay`` (or a jittered backoff), for a new slot. The driver tells the
budget of each per-minute 429 at once, with the quota it names, so the budget
learns from it; a per-day or zero quota ends every image not yet sent as
``rate_limited`` at once, with the quota's name and reset time.

Invariant: every task taken from the source yields exactly one ImageResult, and
its ``attempts`` is the number of times it was sent.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.budget_models import QuotaDenial, SlotGrant
from pipeline.errors import ConfigError
from pipeline.metrics import metrics
from pipeline.retry import log_retry
from pipeline.schema import ImageResult
from pipeline.slots import BudgetClient, denial_for, denied_result
from pipeline.worker import ImageTask, failed_result

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle
    from ray.exceptions import RayActorError

    from pipeline.progress import ProgressTracker
    from pipeline.runner import PoolOptions, WorkerFleet

log = logging.getLogger(__name__)

ResultCallback = Callable[[ImageResult], None]


@dataclass
class InFlight:
    actor: ActorHandle
    worker_id: str
    task: ImageTask
    deadline: float


@dataclass
class _Due:
    at: float  # monotonic time the task's slot opens
    task: ImageTask


class Dispatch:
    """The queue, the slots and the table of items in flight of one run."""

    def __init__(
        self,
        fleet: WorkerFleet,
        options: PoolOptions,
        leased: list[ActorHandle],
        source: Iterator[ImageTask],
        on_result: ResultCallback,
        tracker: ProgressTracker | None = None,
    ) -> None:
        from ray.util import ActorPool

        self.fleet = fleet
        self.options = options
        self.actors = ActorPool([])  # the idle actors that are up; the busy ones are in in_flight
        self.pending: list[ActorHandle] = []  # leased, still loading their backend
        self.size = len(leased)  # actors leased; replacements keep it (pool.follow_load changes it)
        self.source: Iterator[ImageTask] | None = source
        self.queue: deque[ImageTask] = deque()  # read ahead of the source, retries first
        self.read_ahead = self.size
        self.on_result = on_result
        self.tracker = tracker
        self.delivered = 0
        self.in_flight: dict[ObjectRef[ImageResult], InFlight] = {}
        self.asking: dict[ObjectRef[SlotGrant], ImageTask] = {}
        self.due: deque[_Due] = deque()  # slots held, in the order they open
        self.later: list[tuple[float, int, ImageTask]] = []  # retries, heaped by when they may go
        self.policy = fleet.backend_options.retry_policy()
        self.budget = (
            BudgetClient(fleet.limiter, fleet.backend_options) if fleet.limiter is not None else None
        )
        self.denial: QuotaDenial | None = None
        self._quota_wait_shown: float | None = None
        for actor in leased:
            self.add(actor)

    def add(self, actor: ActorHandle) -> None:
        """An actor joins the idle set once it is up: only then does its image take a slot."""
        if self.fleet.is_ready(actor):
            self.actors.push(actor)
        else:
            self.pending.append(actor)

    def give_back(self, actors: list[ActorHandle]) -> None:
        """Return actors this run took out of its idle set (or pending list) to the fleet."""
        self.size -= len(actors)
        self.fleet.release(actors)

    def _admit_ready(self) -> None:
        """Move actors that have come up into the idle set.

        Raises:
            ConfigError: a worker could not start because its backend cannot be built.
        """
        for actor in list(self.pending):
            if self.fleet.is_ready(actor):
                self.pending.remove(actor)
                self.actors.push(actor)
            elif (cause := self.fleet.start_failure(actor)) is not None:
                raise ConfigError(f"a worker could not start: {cause}")

    def until_done(
        self, on_tick: Callable[[], None] | None, on_pass: Callable[[], None] | None = None
    ) -> None:
        """Run until every task is done; ``on_pass`` before each pass (the fleet's share of the run)."""
        import ray

        next_tick = 0.0
        while self._work_left():
            if on_pass is not None:
                on_pass()
            self._admit_ready()
            self._take_slots()
            self._send_due()
            refs: list[ObjectRef[object]] = [*self.in_flight, *self.asking]
            timeout = self._wait_time()
            ready: list[ObjectRef[object]] = []
            if refs:
                ready, waiting = ray.wait(refs, num_returns=1, timeout=timeout)
                if ready and waiting:  # collect everything else already done in the same pass
                    ready += ray.wait(waiting, num_returns=len(waiting), timeout=0)[0]
            elif self.due or self.pending or self.later:
                time.sleep(timeout)
            for ref in ready:
                if ref in self.in_flight:
                    self._collect(ref, self.in_flight.pop(ref))
                else:
                    self._granted(ref, self.asking.pop(ref))
            self._expire()
            self._show_quota_wait()
            if on_tick is not None and time.monotonic() >= next_tick:
                on_tick()
                next_tick = time.monotonic() + self.options.poll_interval_s
        if self.budget is not None:
            self.budget.flush()

    # --- the queue and the slots --------------------------------------------------------

    def _refill(self) -> bool:
        """Top the queue up from the source; False when nothing is left to send."""
        while self.source is not None and len(self.queue) + self._held() < self.read_ahead:
            task = next(self.source, None)
            if task is None:
                self.source = None
            else:
                self.queue.append(task)
        if self.denial is not None:
            self._deny_unsent()
        return bool(self.queue)

    def _work_left(self) -> bool:
        """Release the retries whose wait is over, top the queue up; False once all is done."""
        now = time.monotonic()
        while self.later and self.later[0][0] <= now:
            self.queue.appendleft(heapq.heappop(self.later)[2])  # retries go first
        return self._refill() or bool(self.in_flight or self.asking or self.due or self.later)

    def _held(self) -> int:
        return len(self.in_flight) + len(self.asking) + len(self.due)

    def _take_slots(self) -> None:
        """Ask for as many slots as there are actors free to use them (fewer after 429s)."""
        cap = max(1, self.size >> self.budget.pressure) if self.budget is not None else self.size
        cap = min(cap, self.size - len(self.pending))  # a slot only for an actor that can use it now
        while self.queue and self._held() < cap:
            task = self.queue.popleft()
            if self.budget is None:
                self.due.append(_Due(time.monotonic(), task))
            else:
                self.asking[self.budget.ask(task)] = task

    def _granted(self, ref: ObjectRef[SlotGrant], task: ImageTask) -> None:
        assert self.budget is not None
        grant = self.budget.grant(ref)
        if grant.denied is not None:
            self.denial = self.denial or grant.denied
            self.budget.estimates.pop(task.payload.index, None)
            self._deny(task)
            return
        if grant.wait_s > 0:
            metrics().quota_wait.inc(grant.wait_s, tags={"priority": task.priority})
        if not grant.booked:  # bulk work asks again when its slot is due, holding none meanwhile
            self.budget.estimates.pop(task.payload.index, None)
            heapq.heappush(self.later, (time.monotonic() + grant.wait_s, task.payload.index, task))
            return
        held = task.model_copy(update={"slot_at": grant.slot_at})
        due = _Due(time.monotonic() + grant.wait_s, held)
        position = len(self.due)  # grants may come back out of order; keep the deque sorted
        while position and self.due[position - 1].at > due.at:
            position -= 1
        self.due.insert(position, due)

    def _send_due(self) -> None:
        now = time.monotonic()
        while self.due and self.due[0].at <= now and self.actors.has_free():
            task = self.due.popleft().task
            actor = self.actors.pop_idle()
            ref = actor.process.remote(task)
            # a fresh replacement first loads its backend: that time is not the image's
            worker_id = self.fleet.worker_id(actor)  # idle actors are up (see _add): no start-up grace
            self.in_flight[ref] = InFlight(actor, worker_id, task, now + self.options.image_timeout_s)
            metrics().worker_count("busy", 1)
            if self.tracker is not None:
                self.tracker.image_started(worker_id)

    def _wait_time(self) -> float:
        now = time.monotonic()
        moments = [item.deadline for item in self.in_flight.values()]
        if self.due and self.actors.has_free():
            moments.append(self.due[0].at)
        if self.later:
            moments.append(self.later[0][0])
        next_moment = min(moments, default=now + self.options.poll_interval_s)
        return max(0.0, min(next_moment - now, self.options.poll_interval_s))

    def _show_quota_wait(self) -> None:
        """Tell the progress when images wait for a slot, and until when."""
        if self.tracker is None:
            return
        now = time.monotonic()
        opens = self.due[0].at if self.due and self.due[0].at > now + 0.05 else None
        if opens is None and self.later and not self.in_flight and not self.due:
            opens = self.later[0][0]  # only retries left, each waiting for its server's delay
        if opens is None and self.asking and not self.in_flight:
            opens = now  # asked, not yet answered: waiting all the same
        if (opens is None) != (self._quota_wait_shown is None) or (
            opens is not None
            and self._quota_wait_shown is not None
            and abs(opens - self._quota_wait_shown) > 0.5
        ):
            self._quota_wait_shown = opens
            when = None if opens is None else dt.datetime.now(dt.UTC) + dt.timedelta(seconds=opens - now)
            self.tracker.waiting_for_quota(when)

    # --- results --------------------------------------------------------------------------

    def _collect(self, ref: ObjectRef[ImageResult], item: InFlight) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        metrics().worker_count("busy", -1)
        try:
            result: ImageResult = ray.get(ref)
        except RayActorError as exc:
            self._on_crash(item, exc)
            return
        except RayTaskError as exc:  # the backend raised: only with raise_errors, or a bug
            if self.fleet.worker_options.raise_errors:
                raise
            result = failed_result(item.task.payload, "internal_error", str(exc.cause), item.task.attempt)
        self._recycle(item)
        # how long the worker was held, as seen from here (the request plus Ray's way there and back)
        self.fleet.observe_latency(time.monotonic() - (item.deadline - self.options.image_timeout_s))
        if self.budget is not None:
            self.budget.settle(result, item.task)
        if result.error is not None and self._try_again(result, item):
            return
        self._deliver(result, item.worker_id)

    def _recycle(self, item: InFlight) -> None:
        if self.fleet.due_for_recycling(item.actor):
            self.add(self.fleet.replace(item.actor, item.task.job_id))
        else:
            self.actors.push(item.actor)

    def _try_again(self, result: ImageResult, item: InFlight) -> bool:
        """A failed attempt goes back for a new slot when the policy says so, not before its
        server's delay; a used-up quota stops the run. True if the image goes again."""
        error, task = result.error, item.task
        assert error is not None
        if error.code == "rate_limited":
            metrics().rate_limited.inc(1, tags={"quota": error.quota or "unknown"})
            if self._stops_the_run(result):
                return False
        retry = self.policy.next_try(error, failures=task.failures, quota_waits=task.quota_waits)
        if retry is None:
            result.error = self.policy.final_error(error, task.attempt)
            return False
        log_retry(task.payload.source, task.attempt, error, retry)
        again = task.again(quota_wait=retry.quota_wait)
        heapq.heappush(self.later, (time.monotonic() + retry.delay_s, task.payload.index, again))
        if self.tracker is not None:
            self.tracker.add_retry()
            self.tracker.worker_gone(item.worker_id)  # idle again; the image waits, it has not finished
        return True

    def _stops_the_run(self, result: ImageResult) -> bool:
        """Tell the budget of a 429; True when its quota is used up (per day, or zero) for all."""
        if self.budget is None:
            return False
        denial = denial_for(result)
        if denial is None:
            self.budget.rate_limited(result)
            return False
        log.warning("stopping: %s", denial.message)
        if self.denial is None:
            self.denial = denial
            self.budget.exhausted(denial)
        assert result.error is not None
        result.error = result.error.model_copy(update={"message": denial.message})
        return True

    def _deny_unsent(self) -> None:
        """With the quota used up, every image not yet sent fails at once: the retries waiting for
        their delay, the unread ones too."""
        while self.queue:
            self._deny(self.queue.popleft())
        while self.due:
            self._deny(self.due.popleft().task)
        while self.later:
            self._deny(heapq.heappop(self.later)[2])
        for task in self.source or ():
            self._deny(task)
        self.source = None

    def _deny(self, task: ImageTask) -> None:
        assert self.denial is not None
        self._deliver(denied_result(task, self.denial), None)

    def _on_crash(self, item: InFlight, exc: RayActorError) -> None:
        """A dead worker: its image goes back to the queue, or fails after ``max_attempts``.

        Raises:
            ConfigError: the worker never started because its backend cannot be built
                (bad options, a missing key or extra); every worker would fail alike.
        """
        if exc.actor_init_failed:  # the last line of Ray's report names the cause
            cause = str(exc).strip().splitlines()[-1]
            raise ConfigError(f"a worker could not start: {cause}") from exc
        task = item.task
        log.warning("%s died on %s (attempt %d): %s", item.worker_id, task.payload.source, task.attempt, exc)
        self.add(self.fleet.replace(item.actor, task.job_id))
        if task.failures + 1 < self.options.max_attempts:
            self.queue.appendleft(task.again(quota_wait=False))
            if self.tracker is not None:
                self.tracker.add_retry()
                self.tracker.worker_gone(item.worker_id)
            return
        message = f"worker died on each of {task.attempt} attempts; last: {type(exc).__name__}"
        self._deliver(failed_result(task.payload, "worker_crashed", message, task.attempt), item.worker_id)

    def _expire(self) -> None:
        now = time.monotonic()
        for ref, item in list(self.in_flight.items()):
            if item.deadline <= now:
                del self.in_flight[ref]
                metrics().worker_count("busy", -1)
                timeout = self.options.image_timeout_s
                message = f"no result within {timeout:g} s; worker {item.worker_id} replaced"
                result = failed_result(item.task.payload, "timeout", message, item.task.attempt)
                result.processing_time = timeout * 1000
                if self.budget is not None:
                    self.budget.estimates.pop(result.image_index, None)
                self._deliver(result, item.worker_id)
                self.add(self.fleet.replace(item.actor, item.task.job_id))

    def _deliver(self, result: ImageResult, worker_id: str | None) -> None:
        self.delivered += 1
        if self.tracker is not None:
            self.tracker.image_finished(
                result.image_index,
                ok=result.success,
                processing_ms=result.processing_time,
                worker_id=worker_id,
            )
        self.on_result(result)
