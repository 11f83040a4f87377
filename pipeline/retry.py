"""The send path's one retry policy: which failed attempts are tried again, when, how often.

Every attempt at an image, the first and each retry, is a dispatch of its own
(``pipeline.dispatch``, or the in-process loop of ``pipeline.parse``): it takes a
slot from the budget, and a worker makes exactly one request for it. When the
attempt fails, ``RetryPolicy.next_try`` says whether and when the image goes
again:

- a per-minute 429 waits at least its own ``retryDelay`` (or ``Retry-After``),
  whatever slot the budget could give sooner; up to ``max_quota_waits`` of them;
- another transient failure (5xx, 408, a timeout, a network error, a reply cut
  short) waits a jittered backoff, and at least any delay the server asked for;
  up to ``max_retries`` of them;
- anything else (a bad key, a refused image, a per-day quota) ends the image.

The waiting is never charged to the image's deadline: it is not in flight.
"""

from __future__ import annotations

import logging
import random
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema import ImageError

log = logging.getLogger(__name__)


class Retry(NamedTuple):
    """Try again after ``delay_s``; ``quota_wait``: it was a per-minute 429, not a failure."""

    delay_s: float
    quota_wait: bool


class RetryPolicy(BaseModel):
    """When a failed attempt is tried again (one policy for every backend; the backend sets it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_retries: int = Field(
        default=3, ge=0, le=10, description="transient failures an image may retry after (5xx, timeouts)"
    )
    backoff_base_s: float = Field(default=1.0, gt=0, description="first backoff ceiling; doubles per failure")
    backoff_cap_s: float = Field(default=20.0, gt=0, description="largest backoff ceiling, seconds")
    max_quota_waits: int = Field(
        default=20, ge=0, description="per-minute 429s one image may wait out before it fails rate_limited"
    )

    def backoff_s(self, failures: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**(failures-1)))."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(failures - 1, 0))
        return random.uniform(0, ceiling)

    def next_try(self, error: ImageError, *, failures: int, quota_waits: int) -> Retry | None:
        """When to send the image again after ``error``, or None when it is done.

        ``failures`` and ``quota_waits`` count this image's earlier transient failures and
        per-minute 429s, not this one.
        """
        if not error.retryable:
            return None
        asked = error.retry_after or 0.0
        if error.code == "rate_limited":
            if quota_waits >= self.max_quota_waits:
                return None
            return Retry(max(asked, self.backoff_s(1) if not asked else 0.0), quota_wait=True)
        if failures >= self.max_retries:
            return None
        return Retry(max(asked, self.backoff_s(failures + 1)), quota_wait=False)

    def final_error(self, error: ImageError, attempts: int) -> ImageError:
        """The error an image ends with: its last cause, and how many attempts it took."""
        if attempts <= 1:
            return error
        if error.retryable:
            message = f"gave up after {attempts} attempts; last cause: {error.message}"
        else:
            message = f"{error.message} (attempt {attempts})"
        return error.model_copy(update={"message": message})


def log_retry(source: str, attempt: int, error: ImageError, retry: Retry) -> None:
    """One line per attempt that goes again: which image, what failed, when it goes."""
    log.warning(
        "%s: attempt %d failed (%s: %s); again in %.2f s",
        source,
        attempt,
        error.code,
        error.message,
        retry.delay_s,
    )
