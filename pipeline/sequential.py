"""The send path without Ray: every attempt at one image in this process, by the same rules.

When Ray cannot start (or ``--in-process`` is asked for) images are read one at a
time here. Each attempt still takes a slot from a budget (this process's own),
makes one request, and goes again only as ``RetryPolicy`` says, exactly as
``pipeline.dispatch`` does on a cluster; only the waiting is a plain sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.quota_memory import QuotaNotice
from pipeline.ratelimit import RequestBudget
from pipeline.retry import RetryPolicy, log_retry
from pipeline.schema import ImageResult
from pipeline.slots import denial_for, denied_result
from pipeline.worker import ImageProcessor, ImageTask


def send_until_done(
    processor: ImageProcessor,
    task: ImageTask,
    policy: RetryPolicy,
    budget: RequestBudget | None,
    tokens: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> ImageResult:
    """One image to its one result: a slot, one request, the policy's verdict, until done."""
    while True:
        if budget is not None:
            grant = budget.reserve(tokens, priority=task.priority)
            if grant.denied is not None:
                return denied_result(task, grant.denied)
            sleep(grant.wait_s)
        result = processor.process(task)
        error = result.error
        if budget is not None:
            _tell(budget, result)
        if error is None:
            return result
        retry = policy.next_try(error, failures=task.failures, quota_waits=task.quota_waits)
        if retry is None:  # a used-up day is not retryable: _tell gave it the quota's own words
            result.error = policy.final_error(result.error or error, task.attempt)
            return result
        log_retry(task.payload.source, task.attempt, error, retry)
        sleep(retry.delay_s)
        task = task.again(quota_wait=retry.quota_wait)


def _tell(budget: RequestBudget, result: ImageResult) -> None:
    """What the budget learns from one attempt: a success, a per-minute 429, a used-up quota."""
    error = result.error
    if error is None:
        budget.succeeded()
    elif error.code == "rate_limited":
        denial = denial_for(result)
        if denial is None:
            budget.rate_limited(QuotaNotice.of(error))
        else:
            budget.exhausted(denial)
            result.error = error.model_copy(update={"message": denial.message})
