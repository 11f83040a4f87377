"""Learning a quota from a 429, and the file that keeps it: pure, no Ray, no server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.quota_memory import (
    BudgetMemory,
    LearnedLimit,
    QuotaNotice,
    QuotaStore,
    describe_memory,
    learn_limit,
)

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
RPM_FREE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
RPM_PAID = "GenerateRequestsPerMinutePerProjectPerModel"
TPM_FREE = "GenerateContentInputTokensPerModelPerMinute-FreeTier"


def learned(notice: QuotaNotice, free: int | None = 10, granted: int = 0) -> LearnedLimit | None:
    return learn_limit(notice, free_tier_value=free, granted_in_window=granted, now=NOW)


def test_the_stated_value_wins() -> None:
    limit = learned(QuotaNotice(quota=RPM_PAID, limit=1000), granted=3)
    assert limit is not None and (limit.kind, limit.value, limit.source) == ("requests", 1000, "quotaValue")


def test_a_free_tier_429_without_a_value_takes_the_published_free_tier_number() -> None:
    limit = learned(QuotaNotice(quota=RPM_FREE), free=10, granted=25)
    assert limit is not None and (limit.value, limit.source) == (10, "free-tier table")


def test_a_paid_429_without_a_value_takes_what_the_window_really_held() -> None:
    limit = learned(QuotaNotice(quota=RPM_PAID), free=10, granted=25)
    assert limit is not None and (limit.value, limit.source) == (24, "observed")


def test_a_bare_429_teaches_nothing_about_tokens() -> None:
    assert learned(QuotaNotice(quota=TPM_FREE.removesuffix("-FreeTier")), granted=25) is None
    notice = QuotaNotice(quota=TPM_FREE, limit=250_000)
    assert notice.kind == "tokens" and notice.free_tier


def test_the_memory_file_round_trips_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "quotas" / "m--abc.json")
    assert store.load() is None
    limit = learned(QuotaNotice(quota=RPM_FREE, limit=10))
    assert limit is not None
    memory = BudgetMemory(model="m", key_fingerprint="abc", learned={"requests": limit}, recent_slots=[1.0])
    store.save(memory)
    assert store.load() == memory
    lines = describe_memory(memory, now=1.0)
    assert lines[0] == "m (key abc)" and "10 requests per window" in lines[1] and RPM_FREE in lines[1]
    store.path.write_text("{not json")
    assert store.load() is None
