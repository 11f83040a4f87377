"""The project's exceptions: one tree rooted at ``KaraokeError``.

    KaraokeError
    ├── ConfigError            bad options or settings (pool size, unknown backend)
    ├── JobCancelled           a job stopped because its cancellation was asked for
    ├── ImageRejected          one input cannot be used; carries ``code``
    └── BackendError           extraction of one image failed; carries ``code``,
                               ``retryable``, ``retry_after`` and, for a 429,
                               the ``quota``, its ``quota_scope`` and ``quota_limit``

Exceptions carry fields, not just text. A failed image is turned into an
``ImageResult`` with ``error.code`` by the worker; these never cross the
cluster as raised exceptions unless a test asks for it.
"""

from __future__ import annotations

from typing import Literal

from pipeline.schema import ErrorCode

# minute: wait and go on; day: used up until it resets; zero: this model has no such quota at all
QuotaScope = Literal["minute", "day", "zero"]


class KaraokeError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(KaraokeError, ValueError):
    """Options or settings that cannot work, with a message saying which."""


class JobCancelled(KaraokeError):  # noqa: N818 - reads as what happened to the job
    """A job stopped because its cancellation was asked for."""


class ImageRejected(KaraokeError):  # noqa: N818 - reads as a verdict on the image
    """An input that is not a usable image (empty, corrupt, too large, ...)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


class BackendError(KaraokeError):
    """A backend failed on one image; ``retryable`` says whether trying again may help."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        quota: str | None = None,
        quota_scope: QuotaScope | None = None,
        quota_limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.quota = quota
        self.quota_scope: QuotaScope | None = quota_scope
        self.quota_limit = quota_limit  # the limit the 429 named (quotaValue, "limit: N"), if it did
