"""Tests of the synthetic screenshot generator (no OCR, no Ray)."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from pipeline.schema import WEEKDAYS, ParsedSchedule
from pipeline.testing.screenshot_content import (
    MULTI_DAY_TEXTS,
    TIME_TEXTS,
    VENUES,
    ShowSpec,
    build_truth,
)
from pipeline.testing.screenshots import (
    LAYOUTS,
    TRUTH_FILE,
    generate_corpus,
    load_truth,
    main,
    render_sample,
)

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ParsedSchedule]]:
    """A corpus covering every layout."""
    out = tmp_path_factory.mktemp("corpus")
    return out, generate_corpus(out, seed=11, count=len(LAYOUTS) + 4, layouts=["all"])


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate_corpus(tmp_path / "a", seed=5, count=6)
    second = generate_corpus(tmp_path / "b", seed=5, count=6)
    assert first == second
    for name in [*first, TRUTH_FILE]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_other_seed_gives_other_truth(tmp_path: Path) -> None:
    assert generate_corpus(tmp_path / "a", seed=1, count=4) != generate_corpus(
        tmp_path / "b", seed=2, count=4
    )


def test_image_n_does_not_depend_on_count(tmp_path: Path) -> None:
    short = generate_corpus(tmp_path / "a", seed=9, count=3)
    long = generate_corpus(tmp_path / "b", seed=9, count=8)
    assert all(long[name] == truth for name, truth in short.items())


def test_render_sample_is_deterministic() -> None:
    for layout in LAYOUTS:
        image_a, truth_a = render_sample(layout, random.Random(42))
        image_b, truth_b = render_sample(layout, random.Random(42))
        assert truth_a == truth_b
        assert image_a.tobytes() == image_b.tobytes()


def test_images_open_with_expected_names_and_sizes(
    corpus: tuple[Path, dict[str, ParsedSchedule]],
) -> None:
    out, truth = corpus
    assert sorted(p.name for p in out.iterdir() if p.name != TRUTH_FILE) == sorted(truth)
    layouts = "|".join(LAYOUTS)
    for name in truth:
        assert re.fullmatch(rf"\d{{3}}-({layouts})\.(png|jpg)", name)
        with Image.open(out / name) as image:
            image.verify()
        with Image.open(out / name) as image:
            assert image.format == ("JPEG" if name.endswith("-photo.jpg") else "PNG")
            assert 420 <= image.width <= 1400


def test_truth_json_validates(corpus: tuple[Path, dict[str, ParsedSchedule]]) -> None:
    out, truth = corpus
    raw = json.loads((out / TRUTH_FILE).read_text())
    assert set(raw) == set(truth)
    assert "venueName" in json.dumps(raw)  # camelCase on disk
    assert load_truth(out / TRUTH_FILE) == truth


def test_trap_images_have_no_shows(corpus: tuple[Path, dict[str, ParsedSchedule]]) -> None:
    _, truth = corpus
    traps = [schedule for name, schedule in truth.items() if "trap" in name]
    assert traps
    assert all(schedule == ParsedSchedule() for schedule in traps)
    for seed in range(10):
        assert render_sample("trap", random.Random(seed))[1].shows == []


def test_karaoke_layouts_have_shows(corpus: tuple[Path, dict[str, ParsedSchedule]]) -> None:
    _, truth = corpus
    for name, schedule in truth.items():
        if "trap" not in name:
            assert schedule.shows, name
            assert {s.venue_name for s in schedule.shows} == {v.name for v in schedule.venues}


def test_multi_day_text_expands_to_one_show_per_day() -> None:
    for day_text in MULTI_DAY_TEXTS:
        spec = ShowSpec(venue=VENUES[0], day=day_text, time=TIME_TEXTS[0], dj="Mike")
        truth = build_truth([spec], vendor="Star Sound Entertainment")
        assert [show.day for show in truth.shows] == list(day_text.days)
        assert all(show.time == "9PM-2AM" and show.dj_name == "Mike" for show in truth.shows)
        assert all(show.vendor == "Star Sound Entertainment" for show in truth.shows)
        assert len(truth.venues) == 1 and len(truth.djs) == 1


def test_every_truth_time_is_hhmm(corpus: tuple[Path, dict[str, ParsedSchedule]]) -> None:
    _, truth = corpus
    shows = [show for schedule in truth.values() for show in schedule.shows]
    assert shows
    for show in shows:
        assert show.start_time and HHMM.match(show.start_time)
        assert show.end_time is None or HHMM.match(show.end_time)
        assert show.time and show.day
        assert show.date is None or show.day == WEEKDAYS[show.date.weekday()]
    for entry in TIME_TEXTS:
        assert HHMM.match(entry.start) and (entry.end is None or HHMM.match(entry.end))


def test_dj_names_have_no_prefix(corpus: tuple[Path, dict[str, ParsedSchedule]]) -> None:
    _, truth = corpus
    names = [show.dj_name for s in truth.values() for show in s.shows if show.dj_name]
    assert names
    assert not [name for name in names if re.match(r"(?i)(with |dj |kj )", name)]


def test_address_parts_only_when_rendered() -> None:
    spec = ShowSpec(venue=VENUES[0], day=MULTI_DAY_TEXTS[0], time=TIME_TEXTS[1], dj=None)
    assert build_truth([spec]).venues[0].address is None
    shown = build_truth([replace(spec, address_shown=True)]).venues[0]
    assert (shown.address, shown.city, shown.state, shown.zip) == (
        "123 Main St",
        "Columbus",
        "OH",
        "43215",
    )


def test_jpeg_output(tmp_path: Path) -> None:
    truth = generate_corpus(tmp_path, seed=3, count=2, layouts=["flyer"], fmt="jpeg")
    assert list(truth) == ["001-flyer.jpg", "002-flyer.jpg"]
    with Image.open(tmp_path / "001-flyer.jpg") as image:
        assert image.format == "JPEG"


def test_unknown_layout_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="known layouts: lines"):
        render_sample("poster", random.Random(0))
    with pytest.raises(ValueError, match="poster"):
        generate_corpus(tmp_path, seed=1, count=1, layouts=["poster"])


def test_cli_writes_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--seed", "2", "--count", "3", "--layouts", "table,trap"]) == 0
    assert sorted(load_truth(tmp_path / TRUTH_FILE)) == [
        "001-table.png",
        "002-trap.png",
        "003-table.png",
    ]
    assert "001-table.png" in capsys.readouterr().out


def test_at_least_fifteen_layouts() -> None:
    assert len(LAYOUTS) >= 15


def test_repeated_shows_agree_across_images(tmp_path: Path) -> None:
    """The world is fixed: the same venue, day and start always has the same end and DJ."""
    truth = generate_corpus(tmp_path, seed=4, count=40, layouts=["lines", "table", "social", "prose"])
    seen: dict[tuple[str, str | None, str | None], tuple[str | None, str | None]] = {}
    for schedule in truth.values():
        for show in schedule.shows:
            key = (show.venue_name, show.day, show.start_time)
            assert seen.setdefault(key, (show.end_time, show.dj_name))[0] == show.end_time
    assert len(seen) < sum(len(s.shows) for s in truth.values())  # some shows repeat


@pytest.mark.parametrize("layout", ["prose", "dated", "monthly", "grid", "venue"])
def test_new_layouts_truth(layout: str) -> None:
    for seed in range(5):
        _, truth = render_sample(layout, random.Random(seed))
        assert truth.shows
        if layout == "dated":
            assert all(show.date is not None for show in truth.shows)
        if layout == "monthly":
            assert all(show.description and "month" in show.description.lower() for show in truth.shows)
