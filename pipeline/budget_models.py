"""What crosses between a run and its request budget: grants, settlements, denials, stats."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import Field

from pipeline.schema import WireModel

# Gemini's daily quotas reset at midnight Pacific time.
QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")


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
    booked: bool = Field(default=True, description="False: not booked (bulk); ask again after wait_s")

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


class PriorityStats(WireModel):
    granted: int = 0
    waited_s: float = Field(default=0.0, description="waits granted, seconds")
    deferred: int = Field(default=0, description="bulk asks told to come back later (no slot held)")


class BudgetStats(WireModel):
    granted: int = 0
    denied: int = 0
    rate_limited: int = 0
    pressure: int = 0
    tokens_reserved: int = 0
    token_scale: float = 1.0
    margin_s: float = 0.0
    waited_s: float = Field(default=0.0, description="waits granted in all, seconds")
    by_priority: dict[str, PriorityStats] = Field(default_factory=dict, description="grants per priority")
    rpm: int | None = Field(default=None, description="the requests limit in force (set or learned)")
    tpm: int | None = Field(default=None, description="the input-token limit in force (set or learned)")
    learned: list[str] = Field(default_factory=list, description="each learned limit and its 429")


def next_quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next midnight Pacific time (when Gemini's per-day quotas reset), in UTC."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(QUOTA_DAY_ZONE)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=QUOTA_DAY_ZONE)
    return midnight.astimezone(dt.UTC)
