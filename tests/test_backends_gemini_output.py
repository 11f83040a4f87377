"""Reading Gemini's reply text: fences, truncated JSON, lenient item validation, the envelope."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.backends.gemini_output import (
    build_prompt,
    close_truncated_json,
    load_reply_json,
    read_response,
    response_schema,
    schedule_from_reply,
    strip_code_fences,
)
from pipeline.errors import BackendError

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
