"""The cluster's one request budget per model and key: a named actor around ``RequestBudget``.

The actor lives on the head node, detached and restarted if it dies; a restarted
one resumes from the budget's memory file (``pipeline.quota_memory``) instead of
assuming a full window. Its ``ping`` answers with a problem when slots have
stalled for longer than the window, for ``/healthz`` to report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.budget_models import BudgetStats, QuotaDenial, Settlement, SlotGrant
from pipeline.quota_memory import QuotaNotice
from pipeline.ratelimit import Priority, RateLimitOptions, RequestBudget

if TYPE_CHECKING:
    from ray.actor import ActorHandle

log = logging.getLogger(__name__)

RATE_LIMITER_NAMESPACE = "karaoke-pipeline"


class RateLimiterActor:
    """Body of the named actor: one RequestBudget behind Ray method calls."""

    def __init__(self, options: RateLimitOptions) -> None:
        self.budget = RequestBudget(options)
        if _was_restarted():
            log.warning("the rate limiter restarted; resuming from its memory file where it has one")
            self.budget.resume_after_restart()

    def reserve(
        self, tokens: int = 0, settlements: Sequence[Settlement] = (), priority: Priority = "interactive"
    ) -> SlotGrant:
        return self.budget.reserve(tokens, settlements, priority)

    def rate_limited(self, notice: QuotaNotice | None = None) -> None:
        self.budget.rate_limited(notice)

    def exhausted(self, denial: QuotaDenial) -> None:
        self.budget.exhausted(denial)

    def flush(self) -> None:
        self.budget.flush()

    def snapshot(self) -> BudgetStats:
        return self.budget.snapshot()

    def granted_slots(self) -> list[float]:
        return self.budget.granted_slots()

    def ping(self) -> bool | str:
        """True when healthy; the problem, for /healthz to report, when slots have stalled."""
        return self.budget.stalled() or True


def _was_restarted() -> bool:
    try:
        import ray

        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except Exception:  # not in an actor (tests of the body)
        return False


def head_node_options() -> dict[str, object]:
    """Actor options that keep a helper actor on the head node, restarted if it dies."""
    return {
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "lifetime": "detached",
        "resources": {"node:__internal_head__": 0.001},
    }


def get_rate_limiter(options: RateLimitOptions) -> ActorHandle:
    """The cluster's one budget for these limits, created on first use.

    Every caller with the same model and limits shares it; other limits are
    another budget, so none silently inherits one sized for something else.
    """
    import ray

    actor_class = ray.remote(RateLimiterActor)
    return actor_class.options(
        name=options.actor_name(),
        namespace=RATE_LIMITER_NAMESPACE,
        get_if_exists=True,
        **head_node_options(),
    ).remote(options)
