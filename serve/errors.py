"""HTTP errors of the API: one exception, one JSON shape, messages that name the field.

The body is NestJS-shaped, as the old app's clients expect:
``{"statusCode": 400, "error": "Bad Request", "message": "...", "field": "screenshots[2]"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal with its status, a message for people and the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole (it crosses from the body-decoding process), not as ``Exception(message)``."""
        return (_rebuilt, (self.status, self.message, self.field, self.headers))

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "statusCode": self.status,
            "error": _phrase(self.status),
            "message": self.message,
        }
        if self.field is not None:
            body["field"] = self.field
        return body


class ReplicaGoneError(Exception):
    """A parser replica died with a call, or none took it in time (the front answers 503)."""


def _rebuilt(status: int, message: str, field: str | None, headers: dict[str, str]) -> ApiError:
    return ApiError(status, message, field=field, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 499, a client that closed the request, has no standard phrase
        return "Client Closed Request"


def field_path(location: tuple[int | str, ...]) -> str:
    """``("screenshots", 2)`` -> ``screenshots[2]``; ``("a", "b")`` -> ``a.b``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer (a JSON number, not a string)",
    "bool_type": "must be true or false",
    "list_type": "must be an array",
    "too_short": "must not be empty",
    "extra_forbidden": "is not a known field",
}


def describe(error: ErrorDetails) -> str:
    """One validation error as ``field: what is wrong, got VALUE``."""
    text = _MESSAGES.get(error["type"], error["msg"])
    got = "" if error["type"] == "missing" else f", got {_short(error.get('input'))}"
    return f"{field_path(tuple(error['loc']))}: {text}{got}"


def _short(value: object) -> str:
    text = (
        f"{value!r} ({type(value).__name__})" if not isinstance(value, dict | list) else type(value).__name__
    )
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation(exc: ValidationError | RequestValidationError, prefix: tuple[str, ...] = ()) -> ApiError:
    """A 400 naming every invalid field (the first one in ``field``)."""
    errors = list(exc.errors())
    for error in errors:
        error["loc"] = tuple(part for part in error["loc"] if part not in prefix)
    message = "; ".join(describe(error) for error in errors)
    return ApiError(400, message, field=field_path(tuple(errors[0]["loc"])) if errors else None)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own parameter checks give 400, never 422, in the same shape."""
    assert isinstance(exc, RequestValidationError)
    return await api_error_handler(request, from_validation(exc, prefix=("body", "path", "query")))


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, wrong method) in the same shape."""
    assert isinstance(exc, HTTPException)
    error = ApiError(exc.status_code, str(exc.detail), headers=exc.headers)
    return await api_error_handler(request, error)


async def ray_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A cluster service that died or restarts: 503 in the same shape, never Ray's text (ids, IPs)."""
    log.warning("request failed on a Ray error: %s", exc)
    error = ApiError(
        503, "a service of the cluster is unavailable; retry shortly", headers={"Retry-After": "2"}
    )
    return await api_error_handler(request, error)


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Any other failure: 500 in the same shape, with no traceback or internals."""
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return await api_error_handler(request, ApiError(500, "internal error; see the server log"))
