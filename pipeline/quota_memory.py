"""What a budget learned about its quota, and where it keeps it between runs.

With no tier and no limits configured, the budget starts optimistic (nothing
metered) and learns each limit from the first 429 that names it: Google's
``QuotaFailure`` violation says which quota (its ``quotaId``: requests or input
tokens, per minute; a ``-FreeTier`` suffix on a free project) and, on most
replies, its value (``quotaValue``, or "limit: N" in the message). Where the
429 gives no value, a free-tier quota takes the model's published free-tier
number, and any other takes what was really granted in the last window, less
one. What was learned, and the slots granted in the last window, are kept in
one small JSON file per model and key fingerprint under the data dir, so the
next run (or a restarted budget actor) starts where the last one stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from pipeline.schema import ImageError, WireModel

log = logging.getLogger(__name__)

QuotaKind = Literal["requests", "tokens"]
LimitSource = Literal["quotaValue", "free-tier table", "observed"]


class QuotaNotice(WireModel):
    """A per-minute 429 as the driver tells it to the budget."""

    quota: str | None = Field(default=None, description="the quotaId the 429 named, if any")
    limit: int | None = Field(default=None, description="the limit it named (quotaValue or 'limit: N')")
    retry_after: float | None = Field(default=None, description="the server's retryDelay, seconds")

    @classmethod
    def of(cls, error: ImageError) -> QuotaNotice:
        return cls(quota=error.quota, limit=error.quota_limit, retry_after=error.retry_after)

    @property
    def kind(self) -> QuotaKind:
        return "tokens" if self.quota and "token" in self.quota.lower() else "requests"

    @property
    def free_tier(self) -> bool:
        return bool(self.quota) and "freetier" in (self.quota or "").lower().replace("-", "").replace("_", "")


class LearnedLimit(WireModel):
    """One limit the budget learned: its value and the 429 that taught it."""

    kind: QuotaKind
    value: int = Field(ge=1)
    quota: str | None = None
    source: LimitSource
    learned_at: dt.datetime

    def describe(self) -> str:
        unit = "requests" if self.kind == "requests" else "input tokens"
        origin = {
            "quotaValue": "as the 429 stated",
            "free-tier table": "the published free-tier number (the 429 named a free-tier quota, no value)",
            "observed": "what was granted in the window before the 429",
        }[self.source]
        when = f"{self.learned_at:%Y-%m-%d %H:%M} UTC"
        return f"{self.value} {unit} per window ({origin}; {self.quota or 'no quotaId'}, {when})"


class BudgetMemory(WireModel):
    """The file a budget keeps: what it learned, and the slots it granted lately (epoch seconds)."""

    model: str
    key_fingerprint: str | None = None
    learned: dict[QuotaKind, LearnedLimit] = Field(default_factory=dict)
    recent_slots: list[float] = Field(default_factory=list)
    saved_at: float = 0.0


def learn_limit(
    notice: QuotaNotice, *, free_tier_value: int | None, granted_in_window: int, now: dt.datetime
) -> LearnedLimit | None:
    """The limit a per-minute 429 teaches, or None when it teaches nothing usable."""
    if notice.limit is not None and notice.limit > 0:
        value, source = notice.limit, "quotaValue"
    elif notice.free_tier and free_tier_value:
        value, source = free_tier_value, "free-tier table"
    elif notice.kind == "requests" and granted_in_window > 1:
        value, source = granted_in_window - 1, "observed"
    else:
        return None
    return LearnedLimit(kind=notice.kind, value=value, quota=notice.quota, source=source, learned_at=now)


class QuotaStore:
    """One budget's memory file; never fails a job: unreadable or unwritable is logged and ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> BudgetMemory | None:
        try:
            return BudgetMemory.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            log.warning("ignoring the quota memory at %s: %s", self.path, exc)
            return None

    def save(self, memory: BudgetMemory) -> None:
        """Write atomically (a temp file renamed over the old), so a reader never sees half a file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".quota-", suffix=".json")
            with os.fdopen(fd, "w") as out:
                out.write(memory.to_wire_json(indent=1))
            os.replace(temp, self.path)
        except OSError as exc:
            log.warning("could not keep the quota memory at %s: %s", self.path, exc)


def memory_files(data_dir: Path) -> list[Path]:
    """Every budget memory under a data dir (for ``karaoke-pipeline quota``)."""
    return sorted((data_dir / "quotas").glob("*.json"))


def describe_memory(memory: BudgetMemory, now: float) -> list[str]:
    """Lines for a person: the model, whose key, each learned limit and the window's use."""
    who = f"key {memory.key_fingerprint}" if memory.key_fingerprint else "no key fingerprint"
    lines = [f"{memory.model} ({who})"]
    if not memory.learned:
        lines.append("  nothing learned yet: no 429 has named a limit")
    for limit in memory.learned.values():
        lines.append(f"  {limit.describe()}")
    if memory.saved_at:
        age = max(0.0, now - memory.saved_at)
        lines.append(f"  {len(memory.recent_slots)} slots in the last window when saved {age:.0f} s ago")
    return lines
