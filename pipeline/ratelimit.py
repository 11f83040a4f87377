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
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from pipeline.quota_memory import BudgetMemory, LearnedLimit, QuotaNotice, QuotaStore, learn_limit
from pipeline.schema import WireModel

log = logging.getLogger(__name__)

RATE_LIMITER_NAME = "karaoke-budget"
# Gemini's daily quotas reset at midnight Pacific time.
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")
GRANT_LOG = 1024  # granted slots kept for an audit of the budget (tests, diagnostics)


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


class QuotaDenial(WireModel):
    """A quota that ran out: nothing more is sent on it until ``resets_at``."""

    quota: str = Field(description="the quota, as Google names it or as we count it")
    message: str
    resets_at: dt.datetime | None = None


class SlotGrant(WireModel):
    """The answer to ``reserve``: wait ``wait_s`` then send, or do not send at all."""

    wait_s: float = 0.0
    slot_at: float = Field(default=0.0, description="the slot's time on the budget's clock (epoch seconds)")
    pressure: int = Field(default=0, ge=0, description="halvings of the busy workers after recent 429s")
    denied: QuotaDenial | None = None

    def worker_cap(self, wanted: int) -> int:
        """How many of ``wanted`` workers a pool may keep busy now."""
        return max(1, wanted >> self.pressure)


class Settlement(WireModel):
    """What one finished request cost, told to the budget with a later reservation."""

    estimated_tokens: int = 0
    prompt_tokens: int | None = None
    ok: bool = True
    slot_at: float | None = Field(default=None, description="the slot the request was granted")
    sent_at: float | None = Field(default=None, description="when it really left (epoch seconds)")


class BudgetStats(WireModel):
    granted: int = 0
    denied: int = 0
    rate_limited: int = 0
    pressure: int = 0
    tokens_reserved: int = 0
    token_scale: float = 1.0
    margin_s: float = 0.0
    waited_s: float = Field(default=0.0, description="waits granted in all, seconds")
    rpm: int | None = Field(default=None, description="the requests limit in force (set or learned)")
    tpm: int | None = Field(default=None, description="the input-token limit in force (set or learned)")
    learned: list[str] = Field(default_factory=list, description="each learned limit and its 429")


def next_quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next midnight Pacific time (when Gemini's per-day quotas reset), in UTC."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(QUOTA_DAY_ZONE)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=QUOTA_DAY_ZONE)
    return midnight.astimezone(dt.UTC)


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
        self._requests: deque[float] = deque()  # slots that may still bound a later one, ascending
        self._tokens: deque[tuple[float, int]] = deque()  # (slot, tokens) within the window
        self._today = 0
        self._day_resets = next_quota_reset(wall_clock())
        self._not_before = 0.0
        self._last_slot = 0.0
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
        recent = sorted(at for at in memory.recent_slots if at + self.options.window_s > now)
        self._requests.extend(recent)
        self._last_slot = max(recent, default=0.0)

    def flush(self) -> None:
        """Write the memory file now (a run ends; the next may start in another Ray)."""
        if self._store is None:
            return
        self._trim(self._clock())
        memory = BudgetMemory(
            model=self.options.model,
            key_fingerprint=self.options.key_fingerprint,
            learned={limit.kind: limit for limit in self._learned.values()},
            recent_slots=list(self._requests),
            saved_at=self._clock(),
        )
        self._store.save(memory)
        self._saved_at = self._clock()

    def resume_after_restart(self) -> None:
        """A restarted actor without a memory file: one slot's spacing, not a whole window."""
        if self._requests:
            return  # the memory file said what the last window held
        spacing = self.options.window_s / self.rpm if self.rpm else self._margin
        self._not_before = max(self._not_before, self._clock() + spacing)

    # --- slots ---------------------------------------------------------------------------------

    def reserve(self, tokens: int = 0, settlements: Sequence[Settlement] = ()) -> SlotGrant:
        """Reserve the next slot for a request of about ``tokens`` input tokens."""
        for settlement in settlements:
            self.settle(settlement)
        denial = self._current_denial()
        if denial is not None:
            self.stats.denied += 1
            return SlotGrant(pressure=self.stats.pressure, denied=denial)
        now = self._clock()
        self._trim(now)
        charged = self._charged(tokens)
        slot = max(now, self._not_before, self._last_slot)
        if self.rpm is not None and len(self._requests) >= self.rpm:
            # slot i waits for slot i - rpm to leave the window
            slot = max(slot, self._requests[-self.rpm] + self.options.window_s + self._margin)
        slot = self._token_slot(slot, charged)
        self._requests.append(slot)
        self._last_slot = slot
        self._grants.append(slot)
        self._today += 1
        self.stats.granted += 1
        self.stats.tokens_reserved += charged
        self.stats.waited_s += slot - now
        if self._store is not None and now - self._saved_at >= self.SAVE_EVERY_S:
            self.flush()
        return SlotGrant(wait_s=slot - now, slot_at=slot, pressure=self.stats.pressure)

    def _trim(self, now: float) -> None:
        """Drop slots that left the window before ``now``: no later slot can be bound by them."""
        horizon = self.options.window_s + self._margin
        while self._requests and self._requests[0] + horizon <= now:
            self._requests.popleft()

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
                self._tokens.append((self._clock(), difference))

    def _sent_late(self, settlement: Settlement) -> None:
        """A request that left after its slot counts in the windows from when it really left.

        Under load the way from a granted slot to the wire (the driver's loop, the actor's
        queue) can take longer than the margin; later slots are then spaced from the real
        send, so the server never sees more than the limit in any window.
        """
        slot, sent = settlement.slot_at, settlement.sent_at
        if slot is None or sent is None or sent <= slot:
            return
        try:
            position = self._requests.index(slot)
        except ValueError:  # already out of the window: it no longer matters
            return
        self._requests[position] = sent
        if position + 1 < len(self._requests) and self._requests[position + 1] < sent:
            ordered = sorted(self._requests)
            self._requests.clear()
            self._requests.extend(ordered)

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

    def _token_slot(self, slot: float, charged: int) -> float:
        """The earliest time from ``slot`` at which ``charged`` more tokens fit the TPM window."""
        tpm, window = self.tpm, self.options.window_s
        while self._tokens and self._tokens[0][0] + window <= slot:
            self._tokens.popleft()  # slots only move forward: no later one can see it
        if not tpm or charged <= 0:
            self._tokens.append((slot, charged))  # kept: a TPM learned later sees the window's use
            return slot
        in_window = sorted((at, count) for at, count in self._tokens if at + window > slot)
        used = sum(count for _, count in in_window)
        for at, count in in_window:  # oldest first: wait until enough of them have left
            if used + charged <= tpm:
                break
            slot = max(slot, at + window + self._margin)
            used -= count
        self._tokens.append((slot, charged))
        return slot

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
