"""How the Gemini backend reads a failed request: which code, retry or not, and how long to wait.

google-genai raises ``errors.ClientError`` (4xx) / ``errors.ServerError`` (5xx)
with ``.code``, ``.status`` and ``.details`` (the whole Google error body), and
lets httpx/httpx2 timeouts and network errors through. Each becomes a
``BackendError`` with ``retryable`` set: 408, 429, 500, 502, 503, 504, timeouts
and network errors are worth another try; 400/401/403/404 never are. The wait
the server asks for (``google.rpc.RetryInfo.retryDelay`` in the body, or a
``Retry-After`` header) is read into ``retry_after``.

A 429's ``google.rpc.QuotaFailure`` violations say which quota ran out, e.g.
``GenerateRequestsPerMinutePerProjectPerModel-FreeTier``,
``GenerateContentInputTokensPerModelPerMinute-FreeTier`` or
``GenerateRequestsPerDayPerProjectPerModel-FreeTier``; a quota of 0 (a model
without a free tier) shows as ``quotaValue: "0"`` or "limit: 0" in the message.
Per-minute quotas are worth waiting for; per-day and zero quotas are not.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pipeline.errors import BackendError, QuotaScope

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")


def _error_details(error: Any) -> list[dict[str, Any]]:
    """The ``error.details`` list of a Google error body (the SDK keeps the whole body)."""
    body = getattr(error, "details", None)
    if isinstance(body, dict):
        body = body.get("error", body)
    details = body.get("details") if isinstance(body, dict) else None
    return [item for item in details if isinstance(item, dict)] if isinstance(details, list) else []


def _detail(error: Any, type_suffix: str) -> dict[str, Any] | None:
    return next((d for d in _error_details(error) if str(d.get("@type", "")).endswith(type_suffix)), None)


def _retry_after_header(error: Any) -> float | None:
    """Retry-After in seconds (a number or an HTTP date) from the error's HTTP response."""
    headers = getattr(getattr(error, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def server_retry_delay(error: Any) -> float | None:
    """The wait the server asked for: ``RetryInfo.retryDelay`` ("2s", "0.5s") or Retry-After."""
    retry_info = _detail(error, "google.rpc.RetryInfo")
    match = _DURATION.match(str(retry_info.get("retryDelay", ""))) if retry_info else None
    return float(match[1]) if match else _retry_after_header(error)


_LIMIT_IN_MESSAGE = re.compile(r"limit:\s*(\d+)\b")


def quota_violation(error: Any) -> tuple[str | None, QuotaScope, int | None]:
    """The quota a 429 names, how long it lasts and its limit: the worst of its violations wins.

    The limit is the violation's ``quotaValue`` where Google sends one, else the "limit: N" of
    the message (real 429s carry either, both or neither); None when the 429 does not say.
    """
    failure = _detail(error, "google.rpc.QuotaFailure")
    violations = failure.get("violations") if failure else None
    message = str(getattr(error, "message", "") or "")
    stated = _LIMIT_IN_MESSAGE.search(message)
    message_limit = int(stated[1]) if stated else None
    found: list[tuple[str, QuotaScope, int | None]] = []
    for violation in violations if isinstance(violations, list) else []:
        if not isinstance(violation, dict):
            continue
        quota_id = str(violation.get("quotaId") or violation.get("quotaMetric") or "unknown quota")
        value = str(violation.get("quotaValue", "")).strip()
        limit = int(value) if value.isdigit() else message_limit
        if limit == 0:
            found.append((quota_id, "zero", 0))
        elif "PerDay" in quota_id:
            found.append((quota_id, "day", limit))
        else:
            found.append((quota_id, "minute", limit))
    for scope in ("zero", "day", "minute"):
        for quota_id, found_scope, limit in found:
            if found_scope == scope:
                return quota_id, scope, limit
    if message_limit == 0:
        return None, "zero", 0
    return None, "minute", message_limit


def _is_key_problem(error: Any) -> bool:
    """Google answers a bad key with 400 INVALID_ARGUMENT and ErrorInfo reason API_KEY_INVALID."""
    info = _detail(error, "google.rpc.ErrorInfo")
    return bool(info) and str(info.get("reason", "")).startswith("API_KEY_")  # type: ignore[union-attr]


def _api_error(error: Any) -> BackendError:
    """A google.genai APIError (it carries ``.code``, ``.status``, ``.details``) as a BackendError."""
    code = int(error.code or 0)
    cause = f"HTTP {code} {error.status or ''}: {error.message or ''}".strip()
    if code == 429:
        quota, scope, limit = quota_violation(error)
        return BackendError(
            "rate_limited",
            cause,
            retryable=scope == "minute",
            retry_after=server_retry_delay(error),
            quota=quota,
            quota_scope=scope,
            quota_limit=limit,
        )
    if code in RETRYABLE_STATUS:
        kind: Literal["timeout", "upstream_error"] = "timeout" if code == 408 else "upstream_error"
        return BackendError(kind, cause, retryable=True, retry_after=server_retry_delay(error))
    if code in (401, 403) or (code == 400 and _is_key_problem(error)):
        return BackendError("auth_error", cause)
    return BackendError("upstream_error", cause)


def _transport_error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Timeout and other network error classes of httpx and httpx2 (the SDK uses either)."""
    timeouts: list[type[BaseException]] = [TimeoutError]
    transports: list[type[BaseException]] = [ConnectionError]
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), tuple(transports)


def classify_error(error: Exception) -> BackendError:
    """Any exception of one attempt as a BackendError with a code and ``retryable`` set."""
    from google.genai import errors

    timeouts, transports = _transport_error_types()
    if isinstance(error, BackendError):
        return error
    if isinstance(error, errors.APIError):
        return _api_error(error)
    if isinstance(error, timeouts):
        return BackendError("timeout", f"no reply in time ({type(error).__name__})", retryable=True)
    if isinstance(error, transports):
        return BackendError(
            "upstream_error", f"network error: {type(error).__name__}: {error}", retryable=True
        )
    return BackendError("upstream_error", f"unexpected {type(error).__name__}: {error}")
