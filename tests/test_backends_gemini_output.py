"""Reading Gemini's reply text: fences, truncated JSON, lenient item validation, the envelope."""

from __future__ import annotations

import datetime as dt
import json
import re
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pipeline.backends.gemini.output import (
    build_prompt,
    close_truncated_json,
    load_reply_json,
    read_response,
    response_schema,
    schedule_from_reply,
    strip_code_fences,
)
from pipeline.errors import BackendError
from pipeline.schema import HHMM_PATTERN, WEEKDAYS, Dj, ParsedSchedule, Show, Vendor, Venue

SHOW = {"venueName": "Oties Tavern", "day": "friday", "startTime": "21:00", "time": "9PM", "confidence": 0.8}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('```\n{"a": 1}```', '{"a": 1}'),
        ('```json\n{"a": [1', '{"a": [1'),  # a fence cut off with the reply
        ('  {"a": 1}  ', '{"a": 1}'),
    ],
)
def test_strip_code_fences(text: str, expected: str) -> None:
    assert strip_code_fences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"shows": [{"a": 1}, {"b": "x', '{"shows": [{"a": 1}]}'),
        (
            '{"djs": [{"n": "a}b"}], "shows": [{"a": [1, 2]}, {',
            '{"djs": [{"n": "a}b"}], "shows": [{"a": [1, 2]}]}',
        ),
        ('{"shows": [{"a": "say \\"hi\\" }"}, {"b', '{"shows": [{"a": "say \\"hi\\" }"}]}'),
        ('{"shows": [{"a": 1', None),  # no complete object to cut after
        ('{"shows": [}', None),  # brackets that do not nest
    ],
)
def test_close_truncated_json(text: str, expected: str | None) -> None:
    assert close_truncated_json(text) == expected
    if expected is not None:
        json.loads(expected)


def test_json_broken_in_the_middle_is_not_repaired() -> None:
    with pytest.raises(BackendError) as caught:
        load_reply_json('{"shows" [{"venueName": "A"}]}', truncated=False)
    assert caught.value.code == "bad_model_output"


def test_json_cut_at_the_end_is_repaired_even_without_max_tokens() -> None:
    data, repaired = load_reply_json('{"shows": [{"venueName": "A"}, {"venueName": "B', truncated=False)
    assert repaired and data == {"shows": [{"venueName": "A"}]}


def test_items_are_validated_one_by_one_and_made_valid() -> None:
    reply = {
        "shows": [
            {**SHOW, "startTime": "9pm", "endTime": "2 AM", "date": "next friday", "confidence": 1.7},
            {**SHOW, "day": "Thu-Sat"},  # one show per day
            {"day": "monday"},  # no venue: dropped
        ],
        "venues": [{"name": "Oties Tavern", "state": "OH"}],
        "djs": [{"name": "Max", "aliases": ["DJ Max"], "socialHandles": ["@djmax614"]}],
        "vendors": None,
    }
    schedule = schedule_from_reply(reply)
    first = schedule.shows[0]
    assert (first.start_time, first.end_time, first.date, first.confidence) == ("21:00", "02:00", None, 1.0)
    assert [show.day for show in schedule.shows[1:]] == ["thursday", "friday", "saturday"]
    assert len(schedule.shows) == 4 and schedule.venues[0].state == "OH"
    assert schedule.djs[0].social_handles == ["@djmax614"] and schedule.vendors == []


def test_a_reply_with_nothing_valid_is_bad_model_output() -> None:
    with pytest.raises(BackendError) as caught:
        schedule_from_reply({"shows": [{"day": "monday"}], "venues": [{"city": "Columbus"}]})
    assert caught.value.code == "bad_model_output"
    with pytest.raises(BackendError):
        schedule_from_reply([SHOW])
    assert schedule_from_reply({"shows": []}).shows == []  # an image without karaoke is fine


def _response(text: str | None = None, finish: str = "STOP", block: str | None = None) -> Any:
    part = SimpleNamespace(text=text, thought=None)
    candidate = SimpleNamespace(finish_reason=finish, content=SimpleNamespace(parts=[part]))
    return SimpleNamespace(
        prompt_feedback=SimpleNamespace(block_reason=block) if block else None,
        candidates=[] if block else [candidate],
    )


def test_read_response_codes() -> None:
    full = json.dumps({"shows": [SHOW, {**SHOW, "day": "saturday"}]})
    assert len(read_response(_response(full)).shows) == 2
    assert len(read_response(_response(full[:-30], finish="MAX_TOKENS")).shows) == 1
    cases = [
        (_response(block="PROHIBITED_CONTENT"), "blocked"),
        (_response(full, finish="SAFETY"), "blocked"),
        (_response(full[:20], finish="MAX_TOKENS"), "bad_model_output"),
        (_response(None), "bad_model_output"),
        (_response("I could not read the image."), "bad_model_output"),
    ]
    for response, code in cases:
        with pytest.raises(BackendError) as caught:
            read_response(response)
        assert caught.value.code == code


def test_prompt_and_schema() -> None:
    prompt = build_prompt(vendor="Sing It Co", description="fall schedule", url="https://example.com/post")
    assert "Sing It Co" in prompt and "fall schedule" in prompt and "https://example.com/post" in prompt
    words = " ".join(prompt.split())
    assert "one show per day" in words and "A vendor is never a venue" in words
    schema = response_schema()
    show = schema["properties"]["shows"]["items"]
    assert show["required"] == ["venueName"] and show["properties"]["day"]["enum"][0] == "monday"


# --- the response schema agrees with pipeline/schema.py ------------------------------------
#
# Gemini writes only what the response schema allows, and the reader turns that into the schema
# models, so the two must agree: a reply valid for one is valid for the other. Both are turned
# into JSON Schema (Gemini's `nullable` as a null type, no property beyond those named) and
# replies drawn from each are validated against the other with jsonschema (a dependency of Ray).

SECTIONS: dict[str, type[BaseModel]] = {"vendors": Vendor, "venues": Venue, "djs": Dj, "shows": Show}
NOT_ASKED = {"sources", "seenOnDates"}  # a show's provenance: filled in by us, never asked of Gemini
# Looser in the Gemini schema on purpose: the reader turns '9pm' into '21:00' and drops a bad date.
NORMALISED = {"startTime", "endTime", "date"}


def _strict(node: Any) -> Any:
    """JSON Schema of either dialect, every object closed to properties it does not name."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key not in ("nullable", "property_ordering")}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if node.get("type") == "object" and "properties" in node:
        out["additionalProperties"] = False
    return out


def _model_schema() -> dict[str, Any]:
    """The models' own JSON Schema (by alias), without the fields Gemini is not asked for."""
    schema = ParsedSchedule.model_json_schema(by_alias=True)
    for definition in schema["$defs"].values():
        for name in NOT_ASKED & definition["properties"].keys():
            del definition["properties"][name]
    return _strict(schema)


GEMINI_SCHEMA = _strict(response_schema())
MODEL_SCHEMA = _model_schema()
GEMINI_VALIDATOR = jsonschema.Draft202012Validator(GEMINI_SCHEMA)
MODEL_VALIDATOR = jsonschema.Draft202012Validator(MODEL_SCHEMA)


def _drawn(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for one node of either dialect (the subset these two schemas use)."""
    if "$ref" in node:
        return _drawn(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        return st.one_of([_drawn(option, defs) for option in node["anyOf"]])
    kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
    return st.one_of([_drawn_one(kind, node, defs) for kind in kinds])


def _drawn_one(kind: str, node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if "enum" in node:
        return st.sampled_from([value for value in node["enum"] if value is not None])
    if kind == "string" and "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True).filter(lambda text: not text.endswith("\n"))
    if kind == "string" and node.get("format") == "date":
        return st.dates().map(lambda day: day.isoformat())
    if kind == "string":
        return st.text(max_size=12)
    if kind == "number":
        return st.floats(node.get("minimum"), node.get("maximum"), allow_nan=False)
    if kind == "array":
        return st.lists(_drawn(node["items"], defs), max_size=3)
    assert kind == "object", f"a schema type this test does not draw: {kind}"
    properties = {name: _drawn(value, defs) for name, value in node["properties"].items()}
    required = set(node.get("required", ()))
    return st.fixed_dictionaries(
        {name: value for name, value in properties.items() if name in required},
        optional={name: value for name, value in properties.items() if name not in required},
    )


def _canonical(name: str, value: Any) -> bool:
    """True when a normalised field already holds what the models accept, so it must come back as is."""
    if value is None:
        return True
    if name == "date":
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and _is_iso_date(value)
    return bool(re.fullmatch(HHMM_PATTERN.strip("^$"), value))


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def test_the_gemini_schema_names_every_field_of_the_models() -> None:
    schema = response_schema()
    assert schema["required"] == list(SECTIONS)
    for section, model in SECTIONS.items():
        item = schema["properties"][section]["items"]
        fields = [field.alias for field in model.model_fields.values() if field.alias not in NOT_ASKED]
        required = [field.alias for field in model.model_fields.values() if field.is_required()]
        assert set(item["properties"]) == set(fields), section
        assert item["required"] == required, section
        assert sorted(item["property_ordering"]) == sorted(fields), section


@settings(max_examples=60, deadline=None)
@given(reply=_drawn(response_schema(), {}))
def test_a_reply_valid_for_the_gemini_schema_is_valid_for_the_models(reply: dict[str, Any]) -> None:
    GEMINI_VALIDATOR.validate(reply)  # the strategy draws what Gemini may write
    schedule = schedule_from_reply(reply)
    for section, model in SECTIONS.items():
        items, read = reply[section], getattr(schedule, section)
        assert len(read) == len(items), f"the reader lost a valid item of {section}"
        definition = {**MODEL_SCHEMA["$defs"][model.__name__], "$defs": MODEL_SCHEMA["$defs"]}
        for item, kept in zip(items, read, strict=True):
            wire = kept.to_wire()
            for name, value in item.items():
                assert name in wire, f"{section}: the models have no field {name!r}"
                if name not in NORMALISED or _canonical(name, value):
                    assert wire[name] == value, f"{section}.{name}"
            as_read = {name: wire[name] if name in NORMALISED else value for name, value in item.items()}
            MODEL_VALIDATOR.evolve(schema=definition).validate(as_read)


@settings(max_examples=60, deadline=None)
@given(
    reply=st.fixed_dictionaries(
        {
            section: st.lists(
                _drawn(MODEL_SCHEMA["$defs"][model.__name__], MODEL_SCHEMA["$defs"]), max_size=3
            )
            for section, model in SECTIONS.items()
        }
    )
)
def test_a_reply_valid_for_the_models_is_valid_for_the_gemini_schema(reply: dict[str, Any]) -> None:
    MODEL_VALIDATOR.validate(reply)
    GEMINI_VALIDATOR.validate(reply)
    schedule = schedule_from_reply(reply)
    for section in SECTIONS:
        read = [kept.to_wire() for kept in getattr(schedule, section)]
        assert [
            {name: wire[name] for name in item} for item, wire in zip(reply[section], read, strict=True)
        ] == (reply[section]), f"{section} did not read back as written"


_TEXT_OR_NULL = {"type": "string", "nullable": True}
_SURE = {"type": "number", "minimum": 0, "maximum": 1}
_TEXTS = {"type": "array", "items": {"type": "string"}}


def _items(required: str, **fields: dict[str, Any]) -> dict[str, Any]:
    properties = {required: {"type": "string"}, **fields, "confidence": _SURE}
    item = {"type": "object", "properties": properties, "required": [required]}
    return {"type": "array", "items": {**item, "property_ordering": list(properties)}}


# What Gemini has been sent since the schema was written by hand (PROMPT_VERSION gemini-prompt-1).
SCHEMA_AS_SENT = {
    "type": "object",
    "required": ["vendors", "venues", "djs", "shows"],
    "properties": {
        "vendors": _items("name", website=_TEXT_OR_NULL, description=_TEXT_OR_NULL),
        "venues": _items(
            "name", **dict.fromkeys(("address", "city", "state", "zip", "phone", "website"), _TEXT_OR_NULL)
        ),
        "djs": _items("name", aliases=_TEXTS, socialHandles=_TEXTS),
        "shows": _items(
            "venueName",
            day={**_TEXT_OR_NULL, "enum": list(WEEKDAYS)},
            **dict.fromkeys(
                ("date", "time", "startTime", "endTime", "djName", "vendor", "description"), _TEXT_OR_NULL
            ),
        ),
    },
}


def test_the_derived_schema_is_the_one_gemini_has_been_sent() -> None:
    """The schema is part of every cached answer's key: change this only on purpose."""
    assert response_schema() == SCHEMA_AS_SENT
    assert json.dumps(response_schema(), sort_keys=True) == json.dumps(SCHEMA_AS_SENT, sort_keys=True)
