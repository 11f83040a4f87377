"""One Gemini budget per metered limit, shared by every caller on the cluster.

Google meters a project per model: requests per minute (RPM), input tokens per
minute (TPM) and requests per day (RPD). ``RequestBudget`` (pure, tested
without Ray) holds all three for one model; ``pipeline.budget_actor`` gives
the cluster's one named actor around it, keyed by the model, the key's hash
and the limits (never by worker counts), so a CLI job, a Serve replica and a
batch driver running at once draw on the same budget.

The driver asks for a slot *before* it hands an attempt to a worker
(``reserve``), the first and every retry; the answer says how long to wait, so
an image's deadline starts only when it is sent. The actor never blocks. A
per-minute 429 (told by the driver, ``rate_limited``) holds new slots until the
server's ``retryDelay``, widens the spacing kept between windows, lowers how
many workers a pool keeps busy (halved on each 429, never below one; a run of
successes gives one step back) and, with ``learn`` on (no tier or limits
configured), teaches the budget the limit it hit (``pipeline.quota_memory``).
What it learned and the slots of the last window are kept in ``state_path``, so
the next run and a restarted actor start from them.
A per-day 429, a ``limit: 0`` quota or our own count reaching RPD exhausts the
budget until the quota resets: every later ``reserve`` is denied at once, with
the quota's name and reset time, so jobs end promptly instead of retrying.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.budget_models import (
    BudgetStats,
    PriorityStats,
    QuotaDenial,
    Settlement,
    SlotGrant,
    next_quota_reset,
)
from pipeline.quota_memory import BudgetMemory, LearnedLimit, QuotaNotice, QuotaStore, learn_limit
from pipeline.slot_windows import SlotWindows

log = logging.getLogger(__name__)

RATE_LIMITER_NAME = "karaoke-budget"
GRANT_LOG = 1024  # granted slots kept for an audit of the budget (tests, diagnostics)
BULK_HORIZON_S = 0.05  # bulk work books a slot only this close to now (or the margin, if larger)

Priority = Literal["interactive", "bulk"]  # a user waits for interactive work; bulk can wait


class RateLimitOptions(BaseModel):
    """The limits Google meters for one model, as configured (they differ by tier)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(default="gemini", description="the metered model; each model has a budget of its own")
    key_fingerprint: str | None = Field(
        default=None, description="a hash of the API key (never the key): each project has its own quota"
    )
    rpm: int | None = Field(
        default=None, ge=1, description="requests per window for the whole cluster; None: not metered (yet)"
    )
    tpm: int | None = Field(
        default=None, ge=1, description="input tokens per window; None: not metered (yet)"
    )
    rpd: int | None = Field(default=None, ge=1, description="requests per day; None: not metered")
    learn: bool = Field(
        default=False, description="learn the limits not set here from the 429s that name them"
    )
    free_tier_rpm: int | None = Field(
        default=None, ge=1, description="the published free-tier RPM, for a free-tier 429 that names no value"
    )
    free_tier_tpm: int | None = Field(
        default=None, ge=1, description="the published free-tier TPM, for a free-tier 429 that names no value"
    )
    state_path: str | None = Field(
        default=None, description="file that keeps what was learned and the last window's slots; None: none"
    )
    window_s: float = Field(default=60.0, gt=0, description="length of the RPM/TPM window, seconds")
    margin_s: float | None = Field(
        default=None,
        ge=0,
        description="extra spacing for the time between a reserved slot and the request reaching the API; "
        "None: 2% of the window, at most 0.5 s",
    )
    interactive_share: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="share of each window bulk work leaves free while interactive work asked lately",
    )
    interactive_memory_s: float = Field(
        default=600.0,
        gt=0,
        description="how long after interactive work last asked bulk still leaves its share free",
    )
    recovery_successes: int = Field(
        default=10, ge=1, description="successes in a row that give back one step of busy workers after a 429"
    )

    @property
    def spacing_s(self) -> float:
        """The margin in force: as set, else 2% of the window (at most 0.5 s)."""
        return self.margin_s if self.margin_s is not None else min(0.5, 0.02 * self.window_s)

    def actor_name(self) -> str:
        """The name of this budget's actor: what Google meters and for whom, nothing about who asks."""
        model = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)
        learning = "-learn" if self.learn else ""
        return (
            f"{RATE_LIMITER_NAME}-{model}-{self.key_fingerprint or 'nokey'}-"
            f"{self.rpm or 0}rp{self.window_s:g}s-"
            f"{self.tpm or 0}tp-{self.rpd or 0}rpd-{self.spacing_s:g}m-{self.recovery_successes}r{learning}"
        )


class RequestBudget:
    """Sliding windows of requests and input tokens, a daily count, and an AIMD busy-worker cap."""

    SAVE_EVERY_S = 1.0  # the memory file is rewritten at most this often while slots are granted

    def __init__(
        self,
        options: RateLimitOptions,
        clock: Callable[[], float] = time.time,  # epoch seconds: workers report send times in them
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.options = options
        self._clock = clock
        self._wall_clock = wall_clock
        self.rpm, self.tpm = options.rpm, options.tpm  # in force: as set, or as learned
        self._windows = SlotWindows(options.window_s)
        self._today = 0
        self._day_resets = next_quota_reset(wall_clock())
        self._not_before = 0.0
        self._last_interactive = 0.0  # interactive slots keep their order among themselves
        self._interactive_at = -math.inf  # when interactive work last asked
        self._denial: QuotaDenial | None = None
        self._successes = 0
        self._margin = options.spacing_s
        self.stats = BudgetStats(margin_s=self._margin, rpm=self.rpm, tpm=self.tpm)
        self._grants: deque[float] = deque(maxlen=GRANT_LOG)  # slots as granted, for audits
        self._learned: dict[str, LearnedLimit] = {}
        self._store = QuotaStore(Path(options.state_path)) if options.state_path else None
        self._saved_at = 0.0
        self._started = clock()
        self._recall()

    # --- memory between runs --------------------------------------------------------------

    def _recall(self) -> None:
        """Start from the memory file: the limits learned before, the last window's slots."""
        memory = self._store.load() if self._store is not None else None
        if memory is None:
            return
        if self.options.learn:
            for limit in memory.learned.values():
                self._adopt(limit)
        now = self._clock()
        for at in memory.recent_slots:
            if at + self.options.window_s > now:
                self._windows.book(at, 0)

    def flush(self) -> None:
        """Write the memory file now (a run ends; the next may start in another Ray)."""
        if self._store is None:
            return
        self._trim(self._clock())
        memory = BudgetMemory(
            model=self.options.model,
            key_fingerprint=self.options.key_fingerprint,
            learned={limit.kind: limit for limit in self._learned.values()},
            recent_slots=list(self._windows.slots),
            saved_at=self._clock(),
        )
        self._store.save(memory)
        self._saved_at = self._clock()

    def resume_after_restart(self) -> None:
        """A restarted actor without a memory file: one slot's spacing, not a whole window."""
        if self._windows.slots:
            return  # the memory file said what the last window held
        spacing = self.options.window_s / self.rpm if self.rpm else self._margin
        self._not_before = max(self._not_before, self._clock() + spacing)

    # --- slots ---------------------------------------------------------------------------------

    def reserve(
        self, tokens: int = 0, settlements: Sequence[Settlement] = (), priority: Priority = "interactive"
    ) -> SlotGrant:
        """Reserve the next slot for a request of about ``tokens`` input tokens.

        Interactive work books the earliest slot its limit allows, in its order. Bulk work
        leaves ``interactive_share`` of each window free while interactive work asked within
        ``interactive_memory_s``, and books only a slot about due now: else it is told when to
        ask again (``booked`` False), so it never holds future slots an interactive request needs.
        """
        for settlement in settlements:
            self.settle(settlement)
        denial = self._current_denial()
        if denial is not None:
            self.stats.denied += 1
            return SlotGrant(pressure=self.stats.pressure, denied=denial)
        now = self._clock()
        self._trim(now)
        charged = self._charged(tokens)
        start = max(now, self._not_before)
        if priority == "interactive":
            self._interactive_at = now
            start = max(start, self._last_interactive)
        slot = self._windows.earliest(start, self._margin, self._limit_for(priority, now), self.tpm, charged)
        counts = self.stats.by_priority.setdefault(priority, PriorityStats())
        if priority == "bulk" and slot > now + max(self._margin, BULK_HORIZON_S):
            counts.deferred += 1
            return SlotGrant(wait_s=slot - now, slot_at=slot, pressure=self.stats.pressure, booked=False)
        counts.granted += 1
        counts.waited_s += slot - now
        if priority == "interactive":
            self._last_interactive = slot
        self._windows.book(slot, charged)
        self._grants.append(slot)
        self._today += 1
        self.stats.granted += 1
        self.stats.tokens_reserved += charged
        self.stats.waited_s += slot - now
        if self._store is not None and now - self._saved_at >= self.SAVE_EVERY_S:
            self.flush()
        return SlotGrant(wait_s=slot - now, slot_at=slot, pressure=self.stats.pressure)

    def _trim(self, now: float) -> None:
        self._windows.trim(now, self.options.window_s + self._margin)

    def _limit_for(self, priority: Priority, now: float) -> int | None:
        """Requests per window this work may bring a window to: bulk leaves the interactive share
        free while interactive work asked lately (never below one)."""
        if self.rpm is None or priority == "interactive":
            return self.rpm
        if now - self._interactive_at > self.options.interactive_memory_s:
            return self.rpm
        return max(1, self.rpm - math.ceil(self.rpm * self.options.interactive_share))

    def settle(self, settlement: Settlement) -> None:
        """Learn from a finished request: its real token count corrects later estimates."""
        if settlement.ok:
            self.succeeded()
        self._sent_late(settlement)
        if settlement.prompt_tokens and settlement.estimated_tokens:
            ratio = settlement.prompt_tokens / settlement.estimated_tokens
            self.stats.token_scale = 0.7 * self.stats.token_scale + 0.3 * ratio
            # the window holds the estimate; book the difference now so the window stays honest
            difference = round(settlement.prompt_tokens - settlement.estimated_tokens)
            if difference > 0 and self.tpm:
                self._windows.add_tokens(self._clock(), difference)

    def _sent_late(self, settlement: Settlement) -> None:
        """A request that left after its slot counts in the windows from when it really left.

        Under load the way from a granted slot to the wire (the driver's loop, the actor's
        queue) can take longer than the margin; later slots are then spaced from the real
        send, so the server never sees more than the limit in any window.
        """
        slot, sent = settlement.slot_at, settlement.sent_at
        if slot is not None and sent is not None and sent > slot:
            self._windows.move(slot, sent)

    def rate_limited(self, notice: QuotaNotice | None = None) -> None:
        """A per-minute 429: hold new slots until its ``retry_after``, halve the busy workers and,
        when learning, take the limit it names."""
        notice = notice or QuotaNotice()
        now = self._clock()
        if notice.retry_after:
            self._not_before = max(self._not_before, now + notice.retry_after)
        # our spacing was not enough for this link: widen it (never past 10% of the window)
        self._margin = min(max(self._margin * 1.5, 0.05), 0.1 * self.options.window_s)
        self.stats.margin_s = self._margin
        self.stats.pressure = min(self.stats.pressure + 1, 8)
        self._successes = 0
        self.stats.rate_limited += 1
        if self.options.learn:
            self._learn(notice, now)

    def _learn(self, notice: QuotaNotice, now: float) -> None:
        explicit = self.options.rpm if notice.kind == "requests" else self.options.tpm
        if explicit is not None:
            return  # a limit set by the user is never overridden
        granted = sum(1 for at in self._grants if now - self.options.window_s < at <= now)
        free = self.options.free_tier_rpm if notice.kind == "requests" else self.options.free_tier_tpm
        limit = learn_limit(notice, free_tier_value=free, granted_in_window=granted, now=self._wall_clock())
        if limit is None:
            return
        known = self._learned.get(limit.kind)
        if known is not None and limit.source == "observed" and known.value <= limit.value:
            return  # a guess never raises what was learned
        if known is None or known.value != limit.value:
            log.warning("learned the %s limit of %s: %s", limit.kind, self.options.model, limit.describe())
        self._adopt(limit)
        self.flush()

    def _adopt(self, limit: LearnedLimit) -> None:
        self._learned[limit.kind] = limit
        if limit.kind == "requests" and self.options.rpm is None:
            self.rpm = limit.value
        if limit.kind == "tokens" and self.options.tpm is None:
            self.tpm = limit.value
        self.stats.rpm, self.stats.tpm = self.rpm, self.tpm
        self.stats.learned = [known.describe() for known in self._learned.values()]

    def exhausted(self, denial: QuotaDenial) -> None:
        """A quota ran out (a per-day 429, or a quota of 0): deny every slot until it resets."""
        self._denial = denial
        self.stats.rate_limited += 1

    def succeeded(self) -> None:
        """A request went through; enough of them in a row give back one halving and narrow the
        spacing one step towards its configured value."""
        self._successes += 1
        if self._successes < self.options.recovery_successes:
            return
        self._successes = 0
        self.stats.pressure = max(0, self.stats.pressure - 1)
        self._margin = max(self.options.spacing_s, self._margin / 1.5)
        self.stats.margin_s = self._margin

    def snapshot(self) -> BudgetStats:
        return self.stats.model_copy()

    def stalled(self) -> str | None:
        """A problem when no slot has opened for longer than the window while later ones wait."""
        now = self._clock()
        waiting = [slot for slot in self._grants if slot > now]
        if not waiting:
            return None
        opened = max((slot for slot in self._grants if slot <= now), default=self._started)
        if now - opened <= self.options.window_s:
            return None
        return (
            f"no request slot has opened for {now - opened:.0f} s while {len(waiting)} wait "
            f"(the quota window is {self.options.window_s:g} s)"
        )

    def granted_slots(self) -> list[float]:
        """The last ``GRANT_LOG`` slots as granted (epoch seconds): what the budget promised,
        whatever the load made of it on the way to the server."""
        return list(self._grants)

    def _charged(self, tokens: int) -> int:
        charged = round(tokens * self.stats.token_scale)
        return min(charged, self.tpm) if self.tpm else charged

    def _current_denial(self) -> QuotaDenial | None:
        now = self._wall_clock()
        if now >= self._day_resets:
            self._today, self._day_resets = 0, next_quota_reset(now)
        if self._denial is not None and self._denial.resets_at is not None and now >= self._denial.resets_at:
            self._denial = None
        if self._denial is not None:
            return self._denial
        if self.options.rpd is not None and self._today >= self.options.rpd:
            return QuotaDenial(
                quota="requests per day",
                message=f"the {self.options.rpd} requests per day configured for {self.options.model} "
                f"are used up (KARAOKE_GEMINI_RPD)",
                resets_at=self._day_resets,
            )
        return None
