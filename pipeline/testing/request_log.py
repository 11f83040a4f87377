"""Reading the fake server's request log per image: what a client really sent, and when.

Tests and benchmarks check the send path from the server's side: each record carries the
image it held (sha256) and, for a 429, the ``retryDelay`` it stated.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from pipeline.testing.fake_gemini import RequestRecord


def by_image(records: list[RequestRecord]) -> dict[str | None, list[RequestRecord]]:
    """Each image's requests, oldest first."""
    sent: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.time):
        sent[record.image_sha256].append(record)
    return sent


def early_retries(records: list[RequestRecord]) -> list[tuple[float, float]]:
    """(gap, asked) for every request that reached the server sooner after its image's 429
    than that 429's ``retryDelay`` asked."""
    early = []
    for attempts in by_image(records).values():
        for before, after in itertools.pairwise(attempts):
            if before.status == 429 and before.retry_delay_s is not None:
                gap = after.time - before.time
                if gap < before.retry_delay_s:
                    early.append((gap, before.retry_delay_s))
    return early


def quota_refusals(records: list[RequestRecord]) -> int:
    """429s the server's own quota windows gave (not injected faults)."""
    return sum(1 for record in records if record.fault in ("rpm_limit", "tpm_limit"))
