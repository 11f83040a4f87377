"""What every backend's options class says about its backend: its traits.

Each backend module holds an options class derived from ``BackendOptionsBase``
and overrides only the traits that differ: how it reads the settings, how it
adapts to a job, whether it draws on a rate-limited budget, what identifies
its answers in the result cache, what a request costs. Callers ask these
methods and never check which backend they hold (no ``isinstance``), so a new
backend is one new module plus one registry line in ``pipeline.backends.base``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from pipeline.retry import RetryPolicy

if TYPE_CHECKING:
    from pipeline.ratelimit import RateLimitOptions
    from pipeline.schema import ExtractContext, Usage
    from pipeline.settings import Settings


class BackendOptionsBase(BaseModel):
    """Options of one backend; the defaults below are the traits of a free, local one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str

    calls_remote_api: ClassVar[bool] = False
    """Whether the backend calls a remote, metered API (Gemini): its requests draw on a budget."""

    io_bound_cpu_share: ClassVar[float | None] = None
    default_timeout_s: ClassVar[float] = 30.0
    """The per-image deadline of a job whose user gave none (``--timeout``)."""
    """CPU share of one worker of a backend that mostly waits on an API; None: CPU-bound, the
    workers split the cores."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Default options for this process's settings."""
        return cls.model_validate({})

    def for_job(self, *, workers: int, timeout_s: float) -> Self:
        """These options adapted to a job of ``workers`` workers and a per-image deadline."""
        return self

    def for_cpu_share(self, share: float) -> Self:
        """These options for a worker that gets ``share`` CPUs (a CPU-bound backend sizes its threads)."""
        return self

    def pool_deadline_s(self, timeout_s: float) -> float:
        """The pool's per-image deadline for a user's ``timeout_s``."""
        return timeout_s

    def retry_policy(self) -> RetryPolicy:
        """When a failed attempt goes again: the send path's one policy, with this backend's numbers."""
        return RetryPolicy()

    def require_usable(self) -> None:
        """Raise ConfigError when these options cannot work (a missing key, say)."""

    def rate_limit(self, settings: Settings) -> RateLimitOptions | None:
        """The metered budget this backend's requests draw on; None when nothing meters it."""
        return None

    def cache_identity(self, context: ExtractContext | None) -> str | None:
        """A digest of everything besides the image that shapes an answer; None: not worth caching."""
        return None

    def estimate_input_tokens(self, width: int | None, height: int | None) -> int:
        """Input tokens one request for an image of this size is expected to cost (0: not metered)."""
        return 0

    def estimated_cost(self, usage: Usage, settings: Settings) -> float:
        """US dollars that ``usage`` costs at the configured prices (0 for a free backend)."""
        return 0.0
