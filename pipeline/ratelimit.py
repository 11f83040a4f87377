"""One Gemini budget per metered limit, shared by every caller on the cluster.

Google meters a project per model: requests per minute (RPM), input tokens per
minute (TPM) and requests per day (RPD). ``RequestBudget`` (pure, tested
without Ray) holds all three for one model; ``get_rate_limiter`` gives the
cluster's one named actor around it, keyed by the model and the limits (never
by worker counts), so a CLI job, a Serve replica and a batch driver running at
once draw on the same budget.

The driver asks for a slot *before* it hands an image to a worker
(``reserve``); the answer says how long to wait, so an image's deadline starts
only when it is sent. The actor never blocks. A per-minute 429 holds new slots
until the server's ``retryDelay``, widens the spacing kept between windows (the
requests took longer to arrive than it allowed) and lowers how many workers a
pool keeps busy (halved on each 429, never below one; a run of successes gives
one step back).
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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import WireModel

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

RATE_LIMITER_NAME = "karaoke-budget"
RATE_LIMITER_NAMESPACE = "karaoke-pipeline"
# Gemini's daily quotas reset at midnight Pacific time.
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")
GRANT_LOG = 1024  # granted slots kept for an audit of the budget (tests, diagnostics)


class RateLimitOptions(BaseModel):
    """The limits Google meters for one model, as configured (they differ by tier)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(default="gemini", description="the metered model; each model has a budget of its own")
    rpm: int = Field(default=1000, ge=1, description="requests per window for the whole cluster")
    tpm: int | None = Field(default=None, ge=1, description="input tokens per window; None: not metered")
    rpd: int | None = Field(default=None, ge=1, description="requests per day; None: not metered")
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
        """The name of this budget's actor: what Google meters, nothing about who asks."""
        model = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)
        return (
            f"{RATE_LIMITER_NAME}-{model}-{self.rpm}rp{self.window_s:g}s-"
            f"{self.tpm or 0}tp-{self.rpd or 0}rpd-{self.spacing_s:g}m-{self.recovery_successes}r"
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


def next_quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next midnight Pacific time (when Gemini's per-day quotas reset), in UTC."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(QUOTA_DAY_ZONE)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=QUOTA_DAY_ZONE)
    return midnight.astimezone(dt.UTC)


class RequestBudget:
    """Sliding windows of requests and input tokens, a daily count, and an AIMD busy-worker cap."""

    def __init__(
        self,
        options: RateLimitOptions,
        clock: Callable[[], float] = time.time,  # epoch seconds: workers report send times in them
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.options = options
        self._clock = clock
        self._wall_clock = wall_clock
        self._requests: deque[float] = deque(maxlen=options.rpm)  # only the last rpm slots matter
        self._tokens: deque[tuple[float, int]] = deque()  # (slot, tokens) within the window
        self._today = 0
        self._day_resets = next_quota_reset(wall_clock())
        self._not_before = 0.0
        self._last_slot = 0.0
        self._denial: QuotaDenial | None = None
        self._successes = 0
        self._margin = options.spacing_s
        self.stats = BudgetStats(margin_s=self._margin)
        self._grants: deque[float] = deque(maxlen=GRANT_LOG)  # slots as granted, for audits

    def assume_full(self) -> None:
        """Start as if the last window were used up (a restarted actor forgot what was sent)."""
        now = self._clock()
        self._requests.extend([now] * self.options.rpm)
        if self.options.tpm:
            self._tokens.append((now, self.options.tpm))

    def reserve(self, tokens: int = 0, settlements: Sequence[Settlement] = ()) -> SlotGrant:
        """Reserve the next slot for a request of about ``tokens`` input tokens."""
        for settlement in settlements:
            self.settle(settlement)
        denial = self._current_denial()
        if denial is not None:
            self.stats.denied += 1
            return SlotGrant(pressure=self.stats.pressure, denied=denial)
        now = self._clock()
        charged = self._charged(tokens)
        slot = max(now, self._not_before, self._last_slot)
        if len(self._requests) == self.options.rpm:  # slot i waits for slot i - rpm to leave the window
            slot = max(slot, self._requests[0] + self.options.window_s + self._margin)
        slot = self._token_slot(slot, charged)
        self._requests.append(slot)
        self._last_slot = slot
        self._grants.append(slot)
        self._today += 1
        self.stats.granted += 1
        self.stats.tokens_reserved += charged
        return SlotGrant(wait_s=slot - now, slot_at=slot, pressure=self.stats.pressure)

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
            if difference > 0 and self.options.tpm:
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
        except ValueError:  # already out of the last rpm slots: it no longer matters
            return
        self._requests[position] = sent
        if position + 1 < len(self._requests) and self._requests[position + 1] < sent:
            ordered = sorted(self._requests)
            self._requests.clear()
            self._requests.extend(ordered)

    def rate_limited(self, retry_after: float | None) -> None:
        """A per-minute 429: hold new slots until ``retry_after`` and halve the busy workers."""
        if retry_after:
            self._not_before = max(self._not_before, self._clock() + retry_after)
        # our spacing was not enough for this link: widen it (never past 10% of the window)
        self._margin = min(max(self._margin * 1.5, 0.05), 0.1 * self.options.window_s)
        self.stats.margin_s = self._margin
        self.stats.pressure = min(self.stats.pressure + 1, 8)
        self._successes = 0
        self.stats.rate_limited += 1

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

    def granted_slots(self) -> list[float]:
        """The last ``GRANT_LOG`` slots as granted (epoch seconds): what the budget promised,
        whatever the load made of it on the way to the server."""
        return list(self._grants)

    def _charged(self, tokens: int) -> int:
        charged = round(tokens * self.stats.token_scale)
        return min(charged, self.options.tpm) if self.options.tpm else charged

    def _token_slot(self, slot: float, charged: int) -> float:
        """The earliest time from ``slot`` at which ``charged`` more tokens fit the TPM window."""
        tpm = self.options.tpm
        if not tpm or charged <= 0:
            return slot
        window = self.options.window_s
        while self._tokens and self._tokens[0][0] + window <= slot:
            self._tokens.popleft()  # slots only move forward: no later one can see it
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


class RateLimiterActor:
    """Body of the named actor: one RequestBudget behind Ray method calls."""

    def __init__(self, options: RateLimitOptions) -> None:
        self.budget = RequestBudget(options)
        if _was_restarted():
            log.warning("the rate limiter restarted; assuming its last window was used up")
            self.budget.assume_full()

    def reserve(self, tokens: int = 0, settlements: Sequence[Settlement] = ()) -> SlotGrant:
        return self.budget.reserve(tokens, settlements)

    def rate_limited(self, retry_after: float | None) -> None:
        self.budget.rate_limited(retry_after)

    def exhausted(self, denial: QuotaDenial) -> None:
        self.budget.exhausted(denial)

    def snapshot(self) -> BudgetStats:
        return self.budget.snapshot()

    def granted_slots(self) -> list[float]:
        return self.budget.granted_slots()

    def ping(self) -> bool:
        return True


def _was_restarted() -> bool:
    try:
        import ray

        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not in an actor (tests of the body)
        return False


def head_node_options() -> dict[str, object]:
    """Actor options that keep a helper actor on the head node, restarted if it dies."""
    return {
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "lifetime": "detached",
        "resources": {"node:__internal_head__": 0.001},
    }


def get_rate_limiter(options: RateLimitOptions) -> ActorHandle:
    """The cluster's one budget for these limits, created on first use.

    Every caller with the same model and limits shares it; other limits are
    another budget, so none silently inherits one sized for something else.
    """
    import ray

    actor_class = ray.remote(RateLimiterActor)
    return actor_class.options(
        name=options.actor_name(),
        namespace=RATE_LIMITER_NAMESPACE,
        get_if_exists=True,
        **head_node_options(),
    ).remote(options)
