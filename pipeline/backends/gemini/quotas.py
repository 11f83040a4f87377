"""Gemini's published quotas per tier and prices per model, and how settings override them.

The numbers are Google's published Gemini API limits and paid-tier prices as of
2025 (ai.google.dev/gemini-api/docs/rate-limits and /pricing). They are not
stable facts (Google has cut free-tier limits before, and tells users to read
their own limits in AI Studio), so by default nothing is assumed: the budget
starts unmetered and learns each limit from the first 429 that names it
(``pipeline.quota_memory``); the free-tier row only fills in a free-tier 429
that names no value. ``KARAOKE_GEMINI_TIER`` holds the budget to a tier's
published row instead, and ``KARAOKE_GEMINI_RPM``, ``_TPM`` and ``_RPD`` set a
limit outright; ``KARAOKE_GEMINI_PRICES`` sets other prices. Models are matched
by their longest known name prefix, so ``gemini-2.5-flash-001`` gets the
``gemini-2.5-flash`` row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from pipeline.ratelimit import RateLimitOptions
    from pipeline.settings import ModelPrice, Settings


class Quota(NamedTuple):
    rpm: int | None
    tpm: int | None
    rpd: int | None


# tier -> model -> requests/minute, input tokens/minute, requests/day (None: not limited)
QUOTAS: dict[str, dict[str, Quota]] = {
    "free": {
        "gemini-2.5-pro": Quota(5, 250_000, 100),
        "gemini-2.5-flash": Quota(10, 250_000, 250),
        "gemini-2.5-flash-lite": Quota(15, 250_000, 1_000),
        "gemini-2.0-flash": Quota(15, 1_000_000, 200),
        "gemini-2.0-flash-lite": Quota(30, 1_000_000, 200),
    },
    "tier1": {
        "gemini-2.5-pro": Quota(150, 2_000_000, 10_000),
        "gemini-2.5-flash": Quota(1_000, 1_000_000, 10_000),
        "gemini-2.5-flash-lite": Quota(4_000, 4_000_000, None),
        "gemini-2.0-flash": Quota(2_000, 4_000_000, None),
        "gemini-2.0-flash-lite": Quota(4_000, 4_000_000, None),
    },
    "tier2": {
        "gemini-2.5-pro": Quota(1_000, 5_000_000, 50_000),
        "gemini-2.5-flash": Quota(2_000, 3_000_000, 100_000),
        "gemini-2.5-flash-lite": Quota(10_000, 10_000_000, None),
        "gemini-2.0-flash": Quota(10_000, 10_000_000, None),
        "gemini-2.0-flash-lite": Quota(20_000, 10_000_000, None),
    },
}
QUOTAS["tier3"] = QUOTAS["tier2"]
FALLBACK_MODEL = "gemini-2.5-flash"
T = TypeVar("T")

# model -> US dollars per million input tokens, per million output (and thinking) tokens
PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
}


# Batch API prices: half the online price of every model (ai.google.dev/gemini-api/docs/pricing,
# "Batch" rows, read 2026-12-05; e.g. 2.5 Flash $0.15 in / $1.25 out per million tokens).
BATCH_PRICE_FACTOR = 0.5


def _row(table: dict[str, T], model: str) -> T:
    """The entry of the longest known prefix of ``model`` (the fallback model's without one)."""
    name = model.removeprefix("models/")
    matches = [known for known in table if name.startswith(known)]
    return table[max(matches, key=len)] if matches else table[FALLBACK_MODEL]


def limits_for(model: str, settings: Settings, key_fingerprint: str | None = None) -> RateLimitOptions:
    """The budget of ``model`` on the project of ``key_fingerprint``.

    With a tier set: the tier's published quota. Without: nothing assumed, every limit
    learned from the 429s (the free-tier row only for a free-tier 429 without a value).
    Any limit set in the settings wins either way.
    """
    from pipeline.ratelimit import RateLimitOptions

    free = _row(QUOTAS["free"], model)
    published = _row(QUOTAS[settings.gemini_tier], model) if settings.gemini_tier else Quota(None, None, None)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", model.removeprefix("models/"))
    state = settings.data_dir.resolve() / "quotas" / f"{name}--{key_fingerprint or 'nokey'}.json"
    return RateLimitOptions(
        model=model,
        key_fingerprint=key_fingerprint,
        rpm=settings.gemini_rpm or published.rpm,
        tpm=settings.gemini_tpm or published.tpm,
        rpd=settings.gemini_rpd or published.rpd,
        learn=settings.gemini_tier is None,
        free_tier_rpm=free.rpm,
        free_tier_tpm=free.tpm,
        window_s=settings.gemini_rate_window_s,
        state_path=str(state),
    )


def price_for(model: str, settings: Settings) -> ModelPrice:
    """Dollars per million tokens of ``model``: the settings' table first, then the published one."""
    from pipeline.settings import ModelPrice

    overrides = settings.gemini_prices
    if overrides:
        matches = [known for known in overrides if model.startswith(known)]
        if matches:
            return overrides[max(matches, key=len)]
    price_in, price_out = _row(PRICES, model)
    return ModelPrice(input=price_in, output=price_out)


def batch_price_for(model: str, settings: Settings) -> ModelPrice:
    """Dollars per million tokens of ``model`` through the Batch API: the online price, halved."""
    online = price_for(model, settings)
    return online.model_copy(
        update={"input": online.input * BATCH_PRICE_FACTOR, "output": online.output * BATCH_PRICE_FACTOR}
    )
