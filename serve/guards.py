"""Who may call what: the admin bearer token and per-client rate limiting."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from pipeline.metrics import metrics
from serve.errors import ApiError

NO_TOKEN_MESSAGE = (
    "admin endpoints are disabled: no admin token is configured. Set KARAOKE_ADMIN_TOKEN to a long "
    "random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) where "
    "`karaoke-pipeline serve` runs, restart it, and send `Authorization: Bearer <token>`."
)


def require_admin(authorization: str | None, token: SecretStr | None) -> None:
    """Pass a request carrying ``Authorization: Bearer <token>``; refuse anything else.

    Raises:
        ApiError: 403 when no token is configured (never open by default), 401 when
            the header is missing or the token is wrong.
    """
    if token is None or not token.get_secret_value():
        raise ApiError(403, NO_TOKEN_MESSAGE)
    scheme, _, presented = (authorization or "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="karaoke-pipeline admin"'}
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "admin endpoint: send `Authorization: Bearer <token>`", headers=challenge)
    expected = token.get_secret_value().encode()
    if not hmac.compare_digest(presented.strip().encode(), expected):  # constant time
        raise ApiError(401, "admin endpoint: the bearer token is not valid", headers=challenge)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, refilled at ``per_minute``.

    Per replica: with several replicas a client's effective limit is multiplied by
    their number. Thread-safe.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one request from ``client``'s bucket.

        Raises:
            ApiError: 429 with ``Retry-After`` (whole seconds) when the bucket is empty.
        """
        if self.rate <= 0:
            return
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(client) or _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                wait = math.ceil((1.0 - bucket.tokens) / self.rate)
                raise ApiError(
                    429,
                    f"too many requests from {client}: at most {self.rate * 60:g} per minute; "
                    f"retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            bucket.tokens -= 1.0
            self._buckets[client] = bucket
            self._forget_full_buckets(now)

    def _forget_full_buckets(self, now: float) -> None:
        """Bound memory: a bucket that has refilled is the same as no bucket."""
        if len(self._buckets) <= self.max_clients:
            return
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[client]


class Admission:
    """A bound on the images one replica holds (running or waiting for workers): backpressure.

    Past the bound a request is refused with 503 and ``Retry-After`` before any
    work is done; whatever was admitted runs to its end. A request larger than the
    bound is admitted when nothing else is held, so no valid request is refused forever.
    Thread-safe.
    """

    def __init__(self, max_images: int, workers: int) -> None:
        self.max_images = max_images
        self.workers = max(workers, 1)
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    def admit(self, images: int) -> None:
        """Hold ``images`` more; ``release`` them when their run ends.

        Raises:
            ApiError: 503 with ``Retry-After`` (seconds) when the replica is full.
        """
        with self._lock:
            if self._held and self._held + images > self.max_images:
                wait = min(60, max(1, math.ceil(self._held / self.workers)))
                raise ApiError(
                    503,
                    f"the server is busy: {self._held} images queued (at most {self.max_images}); "
                    f"retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._held += images
            metrics().queued.set(self._held)

    def release(self, images: int) -> None:
        with self._lock:
            self._held = max(self._held - images, 0)
            metrics().queued.set(self._held)
