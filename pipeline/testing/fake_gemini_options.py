"""What the fake Gemini server is told to do: its options, and the decisions they drive.

Which fault a request gets (a scripted sequence first, then seeded random
rates, so runs repeat), how much latency to add (log-normal around a median),
and whether the RPM window has room. Also the ``fake-gemini`` command line
options, which build a FakeGeminiOptions without importing the web server.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import deque
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Fault = Literal[
    "ok",
    "http_500",
    "http_503",
    "http_429",
    "http_429_day",
    "http_429_zero",
    "http_403",
    "slow",
    "malformed_json",
    "fenced_json",
    "max_tokens",
    "blocked",
]
FAULTS: tuple[Fault, ...] = tuple(fault for fault in get_args(Fault) if fault != "ok")


def _rate(description: str) -> Any:
    """A fault-rate field: a share of requests from 0 to 1, off by default."""
    return Field(default=0.0, ge=0.0, le=1.0, description=description)


class FaultRates(BaseModel):
    """Share of requests (0..1) that get each fault; at most one fault per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    http_500: float = _rate("500 INTERNAL")
    http_503: float = _rate("503 UNAVAILABLE (model overloaded)")
    http_429: float = _rate("429 RESOURCE_EXHAUSTED with RetryInfo")
    http_429_day: float = _rate("429 of a used-up per-day quota (no RetryInfo)")
    http_429_zero: float = _rate("429 of a quota of 0 (a model without a free tier)")
    http_403: float = _rate("403 PERMISSION_DENIED")
    slow: float = _rate("a reply after slow_delay_s, beyond a client's timeout")
    malformed_json: float = _rate("reply text that is not valid JSON")
    fenced_json: float = _rate("reply JSON wrapped in a Markdown code fence")
    max_tokens: float = _rate("reply JSON cut off, finishReason MAX_TOKENS")
    blocked: float = _rate("no candidates, promptFeedback.blockReason set")

    @model_validator(mode="after")
    def _at_most_one(self) -> FaultRates:
        total = sum(getattr(self, name) for name in FAULTS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; they must not exceed 1")
        return self


class FakeGeminiOptions(BaseModel):
    """How the fake Gemini server behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    extract: Literal["ocr", "echo"] = Field(
        default="ocr", description="ocr: read the image with the local backend; echo: a fixed schedule"
    )
    latency_median_ms: float = Field(default=0.0, ge=0, description="median added latency (log-normal)")
    latency_sigma: float = Field(default=0.0, ge=0, le=3, description="log-normal spread of the latency")
    rpm: int | None = Field(default=None, ge=1, description="requests allowed per window; None: no limit")
    rate_window_s: float = Field(default=60.0, gt=0, description="length of the RPM window, seconds")
    tpm: int | None = Field(
        default=None, ge=1, description="input tokens allowed per window (prompt tokens); None: no limit"
    )
    rpd: int | None = Field(
        default=None,
        ge=1,
        description="requests allowed in all, then per-day 429s; None: no limit",
    )
    retry_delay_s: float = Field(default=1.0, ge=0, description="retryDelay sent with injected 429s")
    quota_tier: Literal["free", "paid"] = Field(
        default="free", description="the quota ids a 429 names: free tier (-FreeTier) or a paid project's"
    )
    quota_states_limit: bool = Field(
        default=True, description="a 429 states its limit (quotaValue, 'limit: N'); False: as some real ones"
    )
    faults: FaultRates = Field(default_factory=FaultRates, description="random fault rates")
    script: tuple[Fault, ...] = Field(
        default=(), description="faults for the first requests, in order; the random rates apply after"
    )
    slow_delay_s: float = Field(default=5.0, ge=0, description="how long a 'slow' reply takes")
    truncate_fraction: float = Field(
        default=0.6, gt=0, lt=1, description="share of the JSON a MAX_TOKENS reply keeps"
    )
    seed: int | None = Field(default=0, description="seed of faults and latency; None: random")
    api_key: SecretStr | None = Field(
        default=None, description="when set, other keys get 400 API_KEY_INVALID; any key passes otherwise"
    )
    ocr_threads: int = Field(
        default=1,
        ge=1,
        le=16,
        description="onnxruntime threads of the one OCR engine; images are read one at a time",
    )


class FaultPlan:
    """Decides each request's fault and latency: the script first, then seeded draws."""

    def __init__(self, options: FakeGeminiOptions) -> None:
        self.options = options
        self._script: deque[Fault] = deque(options.script)
        self._random = random.Random(options.seed)

    def next_fault(self) -> Fault:
        if self._script:
            return self._script.popleft()
        draw = self._random.random()
        for fault in FAULTS:
            draw -= getattr(self.options.faults, fault)
            if draw < 0:
                return fault
        return "ok"

    def latency_s(self) -> float:
        """Log-normal latency: median ``latency_median_ms``, spread ``latency_sigma``."""
        median = self.options.latency_median_ms / 1000
        if median <= 0:
            return 0.0
        return median * math.exp(self.options.latency_sigma * self._random.gauss(0.0, 1.0))


class RateWindow:
    """A sliding window of admitted amounts (requests, or tokens); refused ones do not count."""

    def __init__(self, limit: int | None, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._admitted: deque[tuple[float, int]] = deque()
        self._used = 0

    def admit(self, now: float | None = None, amount: int = 1) -> float | None:
        """None if ``amount`` more fits the window now (it is counted), else seconds until it may."""
        if self.limit is None:
            return None
        now = time.monotonic() if now is None else now
        while self._admitted and now - self._admitted[0][0] >= self.window_s:
            self._used -= self._admitted.popleft()[1]
        amount = min(amount, self.limit)  # one request larger than the limit is let through alone
        if self._used + amount <= self.limit:
            self._admitted.append((now, amount))
            self._used += amount
            return None
        return self._admitted[0][0] + self.window_s - now


# --- command line (`karaoke-pipeline fake-gemini`); no web framework needed to build the parser ---


def _fault_rate(text: str) -> tuple[str, float]:
    name, _, rate = text.partition("=")
    if name not in FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    try:
        return name, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {rate!r} (use NAME=0.1)") from None


def add_fake_gemini_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``karaoke-pipeline fake-gemini``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8089, help="port (default 8089)")
    parser.add_argument("--extract", choices=["ocr", "echo"], default="ocr", help="ocr (default) or echo")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="median added latency, ms")
    parser.add_argument("--latency-sigma", type=float, default=0.0, help="log-normal spread of latency")
    parser.add_argument("--rpm", type=int, default=None, help="requests per window before 429s")
    parser.add_argument("--tpm", type=int, default=None, help="input tokens per window before 429s")
    parser.add_argument("--rpd", type=int, default=None, help="requests in all before per-day 429s")
    parser.add_argument("--window", type=float, default=60.0, help="the RPM/TPM window, seconds (default 60)")
    parser.add_argument(
        "--fail-rate", type=_fault_rate, action="append", default=[], metavar="FAULT=RATE",
        help=f"inject a fault in this share of requests; FAULT is one of {', '.join(FAULTS)}",
    )  # fmt: skip
    parser.add_argument("--slow-delay", type=float, default=5.0, help="seconds a 'slow' reply takes")
    parser.add_argument("--seed", type=int, default=0, help="seed of faults and latency")
    parser.add_argument(
        "--batch-delay", type=float, default=0.0, help="seconds a Batch API job takes (pending, then running)"
    )


def options_from_args(args: argparse.Namespace) -> FakeGeminiOptions:
    """FakeGeminiOptions from parsed ``fake-gemini`` arguments."""
    return FakeGeminiOptions(
        extract=args.extract,
        latency_median_ms=args.latency_ms,
        latency_sigma=args.latency_sigma,
        rpm=args.rpm,
        tpm=args.tpm,
        rpd=args.rpd,
        rate_window_s=args.window,
        faults=FaultRates(**dict(args.fail_rate)),
        slow_delay_s=args.slow_delay,
        seed=args.seed,
    )
