"""The fake Gemini server's side of the wire: reading requests, writing Google-shaped replies.

Requests may use camelCase or snake_case field names and standard or URL-safe
base64 (the SDK sends the latter). Replies use Google's field names: the
GenerateContentResponse envelope, a blocked prompt, and error bodies with the
same ``google.rpc`` details (QuotaFailure, RetryInfo, ErrorInfo), so clients are
tested against the real shapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

from pipeline.backends.gemini.output import NOT_ASKED
from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue

GEMINI_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


# --- requests --------------------------------------------------------------------


class BadRequestError(Exception):
    """A request the real API would refuse with 400 INVALID_ARGUMENT."""


@dataclass
class ImageRequest:
    """What the fake needs from a generateContent body."""

    image: bytes | None
    mime_type: str | None
    prompt_chars: int
    json_mode: bool


def _either(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    return mapping.get(camel, mapping.get(snake))


def _inline_image(part: dict[str, Any]) -> tuple[bytes, str | None]:
    blob = _either(part, "inlineData", "inline_data")
    mime_type = _either(blob, "mimeType", "mime_type")
    data = str(blob.get("data", ""))
    try:  # Google takes standard and URL-safe base64; the SDK sends the URL-safe kind
        return base64.b64decode(data.translate(_URLSAFE_TO_STANDARD), validate=True), mime_type
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError(
            "Invalid value at 'inline_data.data' (TYPE_BYTES), Base64 decoding failed"
        ) from exc


def read_image_request(body: Any) -> ImageRequest:
    """The first inline image, prompt size and JSON mode of a body in either spelling."""
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
        raise BadRequestError("* GenerateContentRequest.contents: contents is not specified")
    image, mime_type, prompt_chars = None, None, 0
    for content in body["contents"]:
        for part in content.get("parts", []) if isinstance(content, dict) else []:
            if isinstance(_either(part, "inlineData", "inline_data"), dict) and image is None:
                image, mime_type = _inline_image(part)
            prompt_chars += len(part.get("text", "")) if isinstance(part.get("text"), str) else 0
    config = _either(body, "generationConfig", "generation_config") or {}
    json_mode = _either(config, "responseMimeType", "response_mime_type") == "application/json"
    if image is not None and mime_type not in GEMINI_IMAGE_TYPES:
        raise BadRequestError(f"Unsupported MIME type: {mime_type}")
    return ImageRequest(image, mime_type, prompt_chars, json_mode)


# --- replies ---------------------------------------------------------------------


def error_body(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Google's error envelope: ``{"error": {code, message, status, details?}}``."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def format_duration(seconds: float) -> str:
    """A protobuf Duration as JSON, whole seconds rounded up like Google sends: 0.2 -> '1s'."""
    return f"{max(1, math.ceil(seconds))}s"


QUOTA_IDS = {
    "minute": ("generate_content_free_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
    "tokens": (
        "generate_content_free_tier_input_token_count",
        "GenerateContentInputTokensPerModelPerMinute-FreeTier",
    ),
    "day": ("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
}


def quota_body(
    model: str,
    retry_delay_s: float | None,
    limit: int | None,
    quota: str = "minute",
    *,
    free_tier: bool = True,
) -> dict[str, Any]:
    """A 429 like Google's: QuotaFailure (which quota), Help and, when waiting helps, RetryInfo.

    ``free_tier``: the quota ids carry Google's ``-FreeTier`` suffix (else a paid project's);
    ``limit`` None: the 429 names no value (no quotaValue, no "limit: N"), as some real ones.
    """
    metric, quota_id = QUOTA_IDS[quota]
    if not free_tier:
        metric, quota_id = metric.replace("free_tier_", "paid_tier_"), quota_id.removesuffix("-FreeTier")
    violation = {
        "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
    }
    if limit is not None:
        violation["quotaValue"] = str(limit)
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
    ]
    message = (
        "You exceeded your current quota, please check your plan and billing details. "
        f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}"
        + (f", limit: {limit}" if limit is not None else "")
        + f", model: {model}"
    )
    if retry_delay_s is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format_duration(retry_delay_s),
            }
        )
        message += f" Please retry in {retry_delay_s:.1f}s."
    return error_body(429, "RESOURCE_EXHAUSTED", message, details)


SERVER_ERRORS: dict[str, tuple[int, str, str]] = {
    "http_500": (500, "INTERNAL", "An internal error has occurred. Please retry or report the problem."),
    "http_503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "http_403": (403, "PERMISSION_DENIED", "The caller does not have permission"),
}
MISSING_KEY = (
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)


def invalid_key_body() -> dict[str, Any]:
    """Google's answer to a wrong key: 400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID."""
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    return error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [info])


def _usage(prompt_tokens: int, reply_text: str) -> dict[str, int]:
    reply_tokens = max(1, len(reply_text) // 4)
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": reply_tokens,
        "totalTokenCount": prompt_tokens + reply_tokens,
    }


def reply_envelope(text: str, finish_reason: str, model: str, prompt_tokens: int) -> dict[str, Any]:
    """A GenerateContentResponse with one candidate holding ``text``."""
    candidate = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "finishReason": finish_reason,
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(prompt_tokens, text),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
    }


def blocked_envelope(model: str, prompt_tokens: int) -> dict[str, Any]:
    """A blocked prompt: no candidates, ``promptFeedback.blockReason``."""
    return {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:22],
    }


def schedule_text(schedule: ParsedSchedule) -> str:
    """The schedule as the model would write it: camelCase JSON, none of the fields it is not asked
    for (a show's ``sources`` and ``seenOnDates``)."""
    wire = schedule.to_wire()
    for show in wire["shows"]:
        for field in NOT_ASKED:
            show.pop(field, None)
    return json.dumps(wire, ensure_ascii=False)


def faulty_text(text: str, fault: str, truncate_fraction: float) -> tuple[str, str]:
    """The reply text and finishReason for a content fault (or none)."""
    if fault == "malformed_json":
        return text.replace(":", " ", 1), "STOP"  # broken near the start, not repairable
    if fault == "fenced_json":
        return f"```json\n{text}\n```", "STOP"
    if fault == "max_tokens":
        return text[: max(1, int(len(text) * truncate_fraction))], "MAX_TOKENS"
    return text, "STOP"


def echo_schedule() -> ParsedSchedule:
    """A small valid schedule answered in ``echo`` mode: one venue, three nights."""
    venue, dj, vendor = "Echo Tavern", "DJ Echo", "Echo Karaoke Co"
    shows = [
        Show(venue_name=venue, day=day, start_time="21:00", end_time="02:00", time="9PM-2AM",
             dj_name=dj, vendor=vendor, confidence=0.9)
        for day in ("thursday", "friday", "saturday")
    ]  # fmt: skip
    return ParsedSchedule(
        vendors=[Vendor(name=vendor, confidence=0.9)],
        venues=[Venue(name=venue, address="123 Main St", city="Columbus", state="OH", confidence=0.9)],
        djs=[Dj(name=dj, aliases=["Echo"], confidence=0.9)],
        shows=shows,
    )
