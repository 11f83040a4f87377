"""The result cache through ``run_parse``: exact copies and near-copies cost no request (no Ray).

The pairs of ``tests/test_similar.py`` measure how well near-copies are told
from look-alikes; here one near-copy and one same-template look-alike go the
whole way through intake, the cache and the Gemini backend (the fake server).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.cache import ResultCache
from pipeline.images import read_bytes
from pipeline.parse import run_parse
from pipeline.runner import PoolOptions
from pipeline.schema import ParseResponse
from pipeline.testing.fake_gemini import FakeGeminiOptions, FakeGeminiServer
from pipeline.worker import WorkerOptions

SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "screenshots"
KEY = "test-key-do-not-log-0123456789"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(FakeGeminiOptions(extract="echo")) as server:
        yield server


def parse(fake: FakeGeminiServer, image: bytes, cache: ResultCache) -> ParseResponse:
    options = GeminiOptions.model_validate(
        {"api_key": KEY, "base_url": fake.base_url, "image_deadline_s": 20}
    )
    return run_parse(
        [read_bytes(image, 0, max_bytes=10**7, source="shot.png")],
        options,
        pool_options=PoolOptions(workers=1, image_timeout_s=30),
        worker_options=WorkerOptions(),
        use_ray=False,
        cache=cache,
    )


def half_size_jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        small = image.convert("RGB").resize((image.width // 2, image.height // 2))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def test_a_near_copy_is_answered_from_the_cache_and_says_of_what(
    fake: FakeGeminiServer, tmp_path: Path
) -> None:
    original = (SAMPLES / "002-table.png").read_bytes()
    cache = ResultCache(tmp_path / "cache.sqlite3")
    first = parse(fake, original, cache)
    assert first.results[0].status == "ok"
    sent = len(fake.requests)
    second = parse(fake, half_size_jpeg(original), cache)
    result = second.results[0]
    assert result.status == "cached" and result.similar_to == first.results[0].sha256
    assert second.to_wire()["results"][0]["similarTo"] == first.results[0].sha256
    assert second.stats.cached_images == 1 and second.data == first.data
    assert len(fake.requests) == sent, "the near-copy cost no request"


def test_a_look_alike_and_the_switch_off_are_sent(fake: FakeGeminiServer, tmp_path: Path) -> None:
    from pipeline.testing.near_copies import swapped_text
    from pipeline.testing.screenshot_layouts_more import LAYOUTS
    from pipeline.testing.screenshots import sample_rng

    with swapped_text("", "") as seen:
        image, _ = LAYOUTS["table"](sample_rng(5, 1))
    venue = next(text for text in seen if text.istitle() and len(text) > 8)
    with swapped_text(venue, "Copper Kettle"):
        other, _ = LAYOUTS["table"](sample_rng(5, 1))
    cache = ResultCache(tmp_path / "cache.sqlite3")
    assert parse(fake, _png(image), cache).results[0].status == "ok"
    look_alike = parse(fake, _png(other), cache).results[0]
    assert look_alike.status == "ok" and look_alike.similar_to is None
    off = ResultCache(tmp_path / "cache.sqlite3", similar=False)
    copy = parse(fake, half_size_jpeg(_png(image)), off).results[0]
    assert copy.status == "ok" and copy.similar_to is None


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_a_batch_worker_answers_a_near_copy_from_the_cache(fake: FakeGeminiServer, tmp_path: Path) -> None:
    from pipeline.batch import BatchOptions, read_shards, run_batch
    from pipeline.plan import JobPlan

    original = (SAMPLES / "006-table.png").read_bytes()
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "table.png").write_bytes(original)
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "table-forwarded.jpg").write_bytes(half_size_jpeg(original))
    options = GeminiOptions.model_validate(
        {"api_key": KEY, "base_url": fake.base_url, "image_deadline_s": 20}
    )
    plan = JobPlan(options, PoolOptions(workers=1, image_timeout_s=20), WorkerOptions(num_cpus=0.1), None)
    cache = str(tmp_path / "cache.sqlite3")
    sent = len(fake.requests)
    first = run_batch(
        BatchOptions(input=str(tmp_path / "one"), output=str(tmp_path / "out1"), cache_path=cache), plan
    )
    assert first.successful_images == 1 and len(fake.requests) == sent + 1
    second = run_batch(
        BatchOptions(input=str(tmp_path / "two"), output=str(tmp_path / "out2"), cache_path=cache), plan
    )
    assert second.cached_images == 1 and len(fake.requests) == sent + 1, "the near-copy cost no request"
    (result,) = list(read_shards(str(tmp_path / "out2")))
    (earlier,) = list(read_shards(str(tmp_path / "out1")))
    assert result.status == "cached" and result.similar_to == earlier.sha256


def test_one_switch_turns_near_copies_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli import build_parser
    from pipeline.settings import Settings

    monkeypatch.setenv("KARAOKE_SIMILAR_CACHE", "0")
    assert Settings().similar_cache is False
    for command in (["parse", "shot.png"], ["batch", "in", "--output", "out"]):
        assert build_parser().parse_args([*command, "--no-similar-cache"]).no_similar_cache is True
        assert build_parser().parse_args(command).no_similar_cache is False
