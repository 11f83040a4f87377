"""The referenceDate option: CLI, HTTP body, batch options, and how the local backend uses it."""

from __future__ import annotations

import datetime as dt

import pytest
from PIL import Image

from pipeline.backends.base import LocalOptions
from pipeline.backends.local import engine
from pipeline.backends.local.lines import OcrLine
from pipeline.batch import BatchOptions
from pipeline.capture import PNG_TIME_KEY
from pipeline.cli import build_parser
from pipeline.schema import ExtractContext
from serve.models import RequestFields

WEEK = [OcrLine("SATURDAY Sat 6/27", 40, 40, 300, 60), OcrLine("The Rusty Nail 9PM-1AM", 40, 70, 400, 90)]


def test_cli_parse_and_batch_take_a_reference_date() -> None:
    parsed = build_parser().parse_args(["parse", "x.png", "--reference-date", "2026-06-01"])
    assert parsed.reference_date == dt.date(2026, 6, 1)
    batch = build_parser().parse_args(["batch", "in", "--output", "out", "--reference-date", "2025-01-02"])
    assert batch.reference_date == dt.date(2025, 1, 2)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["parse", "x.png", "--reference-date", "June 1"])


def test_http_body_and_batch_options_carry_it_to_the_context() -> None:
    fields = RequestFields.model_validate({"referenceDate": "2026-06-01"})
    assert fields.context() == ExtractContext(reference_date=dt.date(2026, 6, 1))
    assert RequestFields.model_validate({}).context() is None
    assert BatchOptions(input="in", output="out", reference_date=dt.date(2026, 6, 1)).reference_date


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> engine.LocalBackend:
    """A local backend whose OCR returns a week view's two lines (no engine is built)."""
    monkeypatch.setattr(engine, "_build_engine", lambda options: None)
    monkeypatch.setattr(engine.LocalBackend, "read_text", lambda self, image: list(WEEK))
    return engine.LocalBackend(LocalOptions())


def _dates(backend: engine.LocalBackend, image: Image.Image, context: ExtractContext | None) -> list[object]:
    return [(show.day, show.date) for show in backend.extract(image, context).schedule.shows]


def test_the_request_reference_date_beats_the_capture_date(backend: engine.LocalBackend) -> None:
    image = Image.new("RGB", (8, 8))
    image.info[PNG_TIME_KEY] = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)
    context = ExtractContext(reference_date=dt.date(2026, 12, 1))
    assert _dates(backend, image, context) == [("saturday", dt.date(2026, 6, 27))]
    assert _dates(backend, image, None) == [("saturday", dt.date(2020, 6, 27))]  # 2020-06-27 is a Saturday
