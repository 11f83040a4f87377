"""Gemini's published quotas per tier and prices per model, and how settings override them.

The numbers are Google's published Gemini API limits and paid-tier prices as of
2025 (ai.google.dev/gemini-api/docs/rate-limits and /pricing). A project's own
limits are on its AI Studio quota page; set ``KARAOKE_GEMINI_RPM``, ``_TPM`` and
``_RPD`` (or ``KARAOKE_GEMINI_TIER``) to match, and ``KARAOKE_GEMINI_PRICES`` to
other prices. Models are matched by their longest known name prefix, so
``gemini-2.5-flash-001`` gets the ``gemini-2.5-flash`` row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from pipeline.ratelimit import RateLimitOptions
    from pipeline.settings import ModelPrice, Settings


class Quota(NamedTuple):
    rpm: int
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


def _row(table: dict[str, T], model: str) -> T:
    """The entry of the longest known prefix of ``model`` (the fallback model's without one)."""
    name = model.removeprefix("models/")
    matches = [known for known in table if name.startswith(known)]
    return table[max(matches, key=len)] if matches else table[FALLBACK_MODEL]


def limits_for(model: str, settings: Settings) -> RateLimitOptions:
    """The budget of ``model``: the tier's published quota, each limit overridable in settings."""
    from pipeline.ratelimit import RateLimitOptions

    published = _row(QUOTAS[settings.gemini_tier], model)
    return RateLimitOptions(
        model=model,
        rpm=settings.gemini_rpm or published.rpm,
        tpm=settings.gemini_tpm or published.tpm,
        rpd=settings.gemini_rpd or published.rpd,
        window_s=settings.gemini_rate_window_s,
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
