"""The project's exceptions: one tree rooted at ``KaraokeError``.

    KaraokeError
    ├── ConfigError            bad options or settings (pool size, unknown backend)
    │   └── OutputError        a batch's OUTPUT stopped being writable mid-run; carries ``path``
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


class OutputError(ConfigError):
    """A batch's output could not be written or read back; ``path`` names the file or folder.

    Its message is one line for the operator: what failed, where, and that ``--resume``
    finishes the job once the location is fixed (every result written so far is kept).
    """

    def __init__(self, path: str, exc: OSError, doing: str = "write") -> None:
        reason = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(
            f"cannot {doing} {path}: {reason}. Results written so far are kept: "
            "make the output writable (or free space) and run the same command again with --resume"
        )
        self.path = path
        self.reason = reason


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
