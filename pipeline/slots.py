"""A run's side of the cluster's request budget: slots asked for, costs and 429s told.

``BudgetClient`` asks the budget actor for a slot per attempt without blocking
(the answer is a time to wait), settles what each request really cost with a
later ask, tells it at once of a per-minute 429 with the quota it named, and
never loses an image over bookkeeping: an actor that does not answer (it is
restarting) means a short spacing, not a failure. ``denial_for`` reads a quota
that no waiting will fix out of a ``rate_limited`` result.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from pipeline.budget_models import QuotaDenial, Settlement, SlotGrant, next_quota_reset
from pipeline.quota_memory import QuotaNotice
from pipeline.schema import ImageResult
from pipeline.worker import ImageTask, failed_result

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.actor import ActorHandle

    from pipeline.backends.base import BackendOptions

log = logging.getLogger(__name__)

BUDGET_UNREACHABLE_WAIT_S = 1.0  # spacing while the budget actor does not answer (restarting)


class BudgetClient:
    """The run's side of the cluster's request budget: slots asked for, costs settled later."""

    def __init__(self, limiter: ActorHandle, backend_options: BackendOptions) -> None:
        self.limiter = limiter
        self.backend_options = backend_options
        self.estimates: dict[int, int] = {}  # image index -> tokens its slot was asked for
        self.settlements: list[Settlement] = []
        self.pressure = 0

    def ask(self, task: ImageTask) -> ObjectRef[SlotGrant]:
        width, height = image_size(task)
        tokens = self.backend_options.estimate_input_tokens(width, height)
        self.estimates[task.payload.index] = tokens
        settlements, self.settlements = self.settlements, []
        ref: ObjectRef[SlotGrant] = self.limiter.reserve.remote(tokens, settlements, task.priority)
        return ref

    def settle(self, result: ImageResult, task: ImageTask) -> None:
        estimate = self.estimates.pop(result.image_index, None)
        if estimate is None:
            return
        prompt = result.usage.prompt_tokens if result.usage else None
        self.settlements.append(
            Settlement(
                estimated_tokens=estimate,
                prompt_tokens=prompt,
                ok=result.success,
                slot_at=task.slot_at,
                sent_at=result.sent_at,
            )
        )

    def grant(self, ref: ObjectRef[SlotGrant]) -> SlotGrant:
        import ray

        try:
            grant: SlotGrant = ray.get(ref)
        except Exception as exc:  # restarting or lost: never lose the image over bookkeeping
            log.warning(
                "the rate limiter did not answer (%s); spacing requests by %g s",
                exc,
                BUDGET_UNREACHABLE_WAIT_S,
            )
            return SlotGrant(wait_s=BUDGET_UNREACHABLE_WAIT_S, pressure=self.pressure)
        self.pressure = grant.pressure
        return grant

    def exhausted(self, denial: QuotaDenial) -> None:
        self.limiter.exhausted.remote(denial)

    def rate_limited(self, result: ImageResult) -> None:
        """Tell the budget of a per-minute 429 now, with the quota it named, for everyone."""
        assert result.error is not None
        self.limiter.rate_limited.remote(QuotaNotice.of(result.error))

    def flush(self) -> None:
        """The run ends: the budget writes what it knows for the next run."""
        self.limiter.flush.remote()


def image_size(task: ImageTask) -> tuple[int | None, int | None]:
    """Width and height from the image header (no pixels decoded); None when not at hand."""
    data = getattr(task.payload, "data", None)
    if not data:
        return None, None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None, None


def denial_for(result: ImageResult) -> QuotaDenial | None:
    """A quota that no waiting will fix (per-day, or none at all), from a rate_limited result."""
    error = result.error
    if error is None or error.code != "rate_limited" or error.quota_scope not in ("day", "zero"):
        return None
    quota = error.quota or "a Gemini quota"
    if error.quota_scope == "zero":
        message = (
            f"{quota} is 0 for this model on this project (no free tier for it): "
            "enable billing or choose another model (KARAOKE_GEMINI_MODEL)"
        )
        return QuotaDenial(quota=quota, message=message)
    resets = next_quota_reset()
    message = f"{quota} is used up; it resets at {resets:%Y-%m-%d %H:%M} UTC (midnight Pacific time)"
    return QuotaDenial(quota=quota, message=message, resets_at=resets)


def denied_result(task: ImageTask, denial: QuotaDenial) -> ImageResult:
    """An image not sent because its quota is used up: the quota's words and name."""
    result = failed_result(task.payload, "rate_limited", denial.message, task.attempt - 1)
    assert result.error is not None
    result.error.quota = denial.quota
    return result
