"""What we ask Gemini for and how its answer becomes a ParsedSchedule.

Pure functions, no SDK import: the prompt, the response schema (derived from
the models of ``pipeline.schema``, as instructor does), and a strict
but forgiving reader of the reply text. ``response.parsed`` is silently None
on bad JSON, so the reply text is read here: code fences are stripped,
truncated JSON is closed after its last complete object (only where that is
safe), and each item is validated on its own so one odd field does not cost
the whole image. The worker still applies ``clean_schedule`` afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from pipeline.clean import parse_days, parse_time
from pipeline.errors import BackendError
from pipeline.schema import HHMM_PATTERN, Dj, ParsedSchedule, Show, Vendor, Venue

logger = logging.getLogger(__name__)

# Bump when the prompt or schema changes in a way that changes answers (part of the cache key).
PROMPT_VERSION = "gemini-prompt-1"

PROMPT = """\
You read screenshots of karaoke schedules (flyers, social media posts, phone screenshots, tables)
and list what they announce, as JSON that follows the response schema.

- shows: one entry per karaoke night. When one line covers several days ("Thu-Sat",
  "Thursdays & Saturdays", "Weekends"), write one show per day. day is the weekday in lower case
  (monday..sunday) or null; date is YYYY-MM-DD only for a one-off dated event, else null.
  time is the time text exactly as written (e.g. "9PM-2AM"); startTime and endTime are the same
  times as HH:MM on a 24-hour clock; endTime stays after midnight as written ("02:00") and is
  null when the end is open ("close", "late") or not given. Never invent a time or a day.
  djName is the host (DJ or KJ) of that show; vendor is the karaoke company running it, if named.
  description keeps rules such as "last Saturday of the month" or notes such as "canceled".
- venues: every bar or restaurant hosting a show, with street address, city, 2-letter state, zip,
  phone and website when shown.
- djs: every DJ/KJ, with other spellings of the name in aliases and @handles in socialHandles.
- vendors: karaoke or DJ companies ("Karaoke by ...", "Brought to you by ..."). A vendor is never
  a venue.
- Leave out anything that is not karaoke (trivia, food specials, live bands), phone status-bar
  clocks and post timestamps. An image without karaoke gives empty lists.
- confidence (0 to 1) says how sure you are that you read the entry correctly.
"""


def build_prompt(
    vendor: str | None = None,
    description: str | None = None,
    url: str | None = None,
    today: dt.date | None = None,
) -> str:
    """The instruction text, with the submitter's hints (if any) and today's date for dated events."""
    lines = [PROMPT, f"Today is {(today or dt.date.today()).isoformat()}."]
    if vendor:
        lines.append(f"The submitter says the shows are run by the karaoke company {vendor!r}.")
    if description:
        lines.append(f"The submitter describes the image as: {description!r}.")
    if url:
        lines.append(f"The image was found at {url}.")
    return "\n".join(lines)


# Gemini is not asked for a show's sources (the images it came from, which we know) nor for the
# dates a weekly show was seen on (the reducer's provenance, from dated sightings across images).
NOT_ASKED = frozenset({"sources", "seenOnDates"})
# The order Gemini writes a show's fields in: the time text as seen before its HH:MM reading.
SHOW_FIELD_ORDER: tuple[str, ...] = (
    *("venueName", "day", "date", "time", "startTime", "endTime"),
    *("djName", "vendor", "description", "confidence"),
)
_SCALARS: dict[Any, str] = {str: "string", dt.date: "string", float: "number"}


def _bound(value: float) -> float | int:
    """1 rather than 1.0, so the schema (part of the cache identity) reads as it always has."""
    return int(value) if float(value).is_integer() else value


def _field_schema(field: FieldInfo) -> dict[str, Any]:
    """One model field in Gemini's OpenAPI subset: its type, nullable, enum, array items, bounds."""
    annotation, nullable = field.annotation, False
    if type(None) in get_args(annotation):
        (annotation,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        nullable = True
    if get_origin(annotation) is Literal:
        schema: dict[str, Any] = {"type": "string", "enum": list(get_args(annotation))}
    elif get_origin(annotation) is list:
        (item,) = get_args(annotation)
        schema = {"type": "array", "items": {"type": _SCALARS[item]}}
    else:
        schema = {"type": _SCALARS[annotation]}
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            schema["minimum"] = _bound(float(bound.ge))  # type: ignore[arg-type]
        elif isinstance(bound, annotated_types.Le):
            schema["maximum"] = _bound(float(bound.le))  # type: ignore[arg-type]
    if nullable:
        kind = schema.pop("type")
        schema = {"type": kind, "nullable": True, **schema}
    return schema


def _list_of(model: type[BaseModel], order: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An array of the model's items, camelCase keys, the fields Gemini is not asked for left out."""
    fields = {
        field.alias or name: field
        for name, field in model.model_fields.items()
        if (field.alias or name) not in NOT_ASKED
    }
    names = list(order or fields)
    item = {
        "type": "object",
        "properties": {name: _field_schema(fields[name]) for name in names},
        "required": [name for name in names if fields[name].is_required()],
    }
    return {"type": "array", "items": {**item, "property_ordering": names}}


def response_schema() -> dict[str, Any]:
    """The structured-output schema (Gemini's OpenAPI subset) of a ParsedSchedule, derived from the models."""
    sections = {
        "vendors": _list_of(Vendor),
        "venues": _list_of(Venue),
        "djs": _list_of(Dj),
        "shows": _list_of(Show, SHOW_FIELD_ORDER),
    }
    return {"type": "object", "properties": sections, "required": list(sections)}


# --- reading the reply -----------------------------------------------------------

_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(?P<body>.*?)(?:\n?```\s*)?$", re.DOTALL)


def strip_code_fences(text: str) -> str:
    """The JSON inside a Markdown code fence (closed or not); other text unchanged."""
    match = _FENCE.match(text)
    return match["body"].strip() if match else text.strip()


def close_truncated_json(text: str) -> str | None:
    """Cut ``text`` after its last complete object inside a list and close what is still open.

    Returns None when no such object exists or the brackets do not nest.
    '{"shows": [{"a": 1}, {"b"' -> '{"shows": [{"a": 1}]}'.
    """
    stack: list[str] = []
    in_string = escaped = False
    cut: tuple[int, list[str]] | None = None
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]":
            if not stack or "{[".index(stack.pop()) != "}]".index(char):
                return None
            if stack and stack[-1] == "[" and char == "}":
                cut = (index + 1, list(stack))
    if cut is None:
        return None
    end, still_open = cut
    return text[:end] + "".join("}" if bracket == "{" else "]" for bracket in reversed(still_open))


def _error_is_at_the_end(error: json.JSONDecodeError, text: str) -> bool:
    """True when the JSON broke off (an unfinished string or value), not when it is wrong inside."""
    return error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip()) - 1


def load_reply_json(text: str, *, truncated: bool) -> tuple[Any, bool]:
    """The reply's JSON value and whether it had to be repaired; BackendError when unreadable."""
    body = strip_code_fences(text)
    start = body.find("{")
    if start < 0:
        raise BackendError("bad_model_output", f"the reply holds no JSON object: {body[:80]!r}")
    body = body[start:]
    try:
        return json.JSONDecoder().raw_decode(body)[0], False
    except json.JSONDecodeError as error:
        repaired = close_truncated_json(body) if truncated or _error_is_at_the_end(error, body) else None
        if repaired is None:
            raise BackendError("bad_model_output", f"the reply is not valid JSON: {error}") from error
    return json.loads(repaired), True


# --- lenient item validation -------------------------------------------------------

_HHMM = re.compile(HHMM_PATTERN)


def _as_text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _hhmm_or_none(value: Any) -> str | None:
    text = _as_text(value)
    if text is None or _HHMM.match(text):
        return text
    return parse_time(text)


def _iso_date_or_none(value: Any) -> str | None:
    text = _as_text(value)
    try:
        return dt.date.fromisoformat(text).isoformat() if text else None
    except ValueError:
        return None


def _confidence(item: dict[str, Any]) -> dict[str, Any]:
    value = item.get("confidence")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {**item, "confidence": min(max(float(value), 0.0), 1.0)}
    return {key: field for key, field in item.items() if key != "confidence"}


def _take(fields: dict[str, Any], *names: str) -> Any:
    """Pop every spelling of one field; the first one present wins."""
    values = [fields.pop(name) for name in names if name in fields]
    return values[0] if values else None


def _show_items(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A raw show with times and date made valid; a multi-day show becomes one per day."""
    fields = dict(item)
    fields.pop("sources", None)
    day_text = _as_text(_take(fields, "day", "dayOfWeek", "day_of_week"))
    fields["startTime"] = _hhmm_or_none(_take(fields, "startTime", "start_time"))
    fields["endTime"] = _hhmm_or_none(_take(fields, "endTime", "end_time"))
    fields["date"] = _iso_date_or_none(fields.get("date"))
    days: list[str | None] = list(parse_days(day_text)) if day_text else []
    return [{**fields, "day": day} for day in days or [None]]


def _validated(model: type[BaseModel], items: list[dict[str, Any]]) -> tuple[list[Any], int]:
    kept: list[Any] = []
    for item in items:
        try:
            kept.append(model.model_validate(_confidence(item)))
        except ValidationError as error:
            logger.debug("dropped a %s from the reply: %s", model.__name__, error.errors()[:1])
    return kept, len(items) - len(kept)


def _section(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BackendError("bad_model_output", f"'{name}' in the reply is not a list")
    return [item for item in value if isinstance(item, dict)]


def schedule_from_reply(data: Any) -> ParsedSchedule:
    """Validate a decoded reply item by item; drop what cannot be read, fail if nothing can."""
    if not isinstance(data, dict):
        raise BackendError("bad_model_output", f"the reply is a JSON {type(data).__name__}, not an object")
    raw_shows = [show for item in _section(data, "shows") for show in _show_items(item)]
    shows, dropped_shows = _validated(Show, raw_shows)
    venues, dropped_venues = _validated(Venue, _section(data, "venues"))
    djs, dropped_djs = _validated(Dj, _section(data, "djs"))
    vendors, dropped_vendors = _validated(Vendor, _section(data, "vendors"))
    dropped = dropped_shows + dropped_venues + dropped_djs + dropped_vendors
    if dropped and not (shows or venues or djs or vendors):
        raise BackendError("bad_model_output", f"none of the {dropped} items in the reply are valid")
    if dropped:
        logger.info("dropped %d invalid items from the reply", dropped)
    return ParsedSchedule(vendors=vendors, venues=venues, djs=djs, shows=shows)


# --- the response envelope -----------------------------------------------------------

# Finish reasons that mean the answer was withheld, not that it went wrong.
BLOCKING_FINISH_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "MODEL_ARMOR"}
)


def _enum_name(value: Any) -> str | None:
    """'MAX_TOKENS' for FinishReason.MAX_TOKENS or the plain string; None when unset."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _reply_text(candidate: Any) -> str:
    """The candidate's text parts joined, thoughts left out."""
    content = getattr(candidate, "content", None)
    parts = getattr(content, "parts", None) or []
    return "".join(part.text for part in parts if getattr(part, "text", None) and not part.thought)


def read_response(response: Any) -> ParsedSchedule:
    """A GenerateContentResponse as a ParsedSchedule, or BackendError ``blocked``/``bad_model_output``.

    ``response.parsed`` is not used: it is silently None on bad JSON, truncation or a block.
    """
    feedback = getattr(response, "prompt_feedback", None)
    block_reason = _enum_name(getattr(feedback, "block_reason", None))
    if block_reason:
        raise BackendError("blocked", f"Gemini blocked the prompt ({block_reason})")
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise BackendError("bad_model_output", "the reply has no candidates")
    finish = _enum_name(candidates[0].finish_reason)
    if finish in BLOCKING_FINISH_REASONS:
        raise BackendError("blocked", f"Gemini withheld the answer (finishReason {finish})")
    text = _reply_text(candidates[0])
    truncated = finish == "MAX_TOKENS"
    if not text:
        raise BackendError("bad_model_output", f"the reply has no text (finishReason {finish})")
    data, repaired = load_reply_json(text, truncated=truncated)
    schedule = schedule_from_reply(data)
    if truncated and not schedule.shows:
        raise BackendError("bad_model_output", "the reply was cut off (MAX_TOKENS) before a complete show")
    if repaired:
        logger.warning(
            "repaired a cut-off reply (finishReason %s): %d shows kept", finish, len(schedule.shows)
        )
    return schedule
