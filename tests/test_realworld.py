"""Tests of the realistic corpus generator (pipeline/testing/realworld): truth, splits, files."""

from __future__ import annotations

import html
import io
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from pipeline.schema import WEEKDAYS
from pipeline.testing.realworld.corpus import (
    EXTRA_FAMILIES,
    FAMILIES,
    ROTATION,
    TEST_COUNT,
    TEST_EXTRA_COUNT,
    TEST_EXTRAS,
    TEST_SEED,
    TRUTH_FILE,
    draw_sample,
    encode_sample,
    generate_split,
    iter_split,
    sample_name,
)
from pipeline.testing.realworld.sample import Sample
from pipeline.testing.realworld.world import pool_for

WEB = ("card-grid", "week-view", "a-z", "schedule-table", "venue-pane", "social-post", "link-in-bio")
EXTRA_WEB = tuple(family for family in EXTRA_FAMILIES if family != "logo-flyer")
TRAPS = ("trap-menu", "trap-specials", "trap-sheet-music", "trap-photo")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def samples_of(family: str, count: int = 6, seed: int = 3) -> list[Sample]:
    """``count`` samples of one family, drawn as images 1..count of the dev split of ``seed``."""
    return [draw_sample("dev", seed, index, family) for index in range(1, count + 1)]


def page_text(sample: Sample) -> str:
    """The visible words of a page, roughly: tags dropped, entities decoded, folded."""
    assert sample.html is not None
    return html.unescape(re.sub(r"<[^>]+>", " ", sample.html)).casefold()


def test_every_family_is_in_the_rotation_or_asked_for_by_name() -> None:
    # families added later stay out of the rotation, so every existing seed draws what it drew
    assert set(ROTATION) == set(WEB) | set(TRAPS) | {"flyer"}
    assert set(FAMILIES) == set(ROTATION) | set(EXTRA_FAMILIES) and not set(ROTATION) & set(EXTRA_FAMILIES)


@pytest.mark.parametrize("family", [*WEB, *EXTRA_WEB])
def test_each_true_show_is_written_on_its_page(family: str) -> None:
    for sample in samples_of(family):
        text = page_text(sample)
        assert sample.truth.shows, f"a {family} page with no show"
        for show in sample.truth.shows:
            assert show.venue_name.casefold() in text
            assert show.time and show.time.casefold() in text
            assert show.start_time and HHMM.match(show.start_time)
            assert show.dj_name is None or show.dj_name.casefold() in text


@pytest.mark.parametrize("family", [*WEB, *EXTRA_WEB])
def test_an_address_is_in_the_truth_only_when_the_page_shows_it(family: str) -> None:
    for sample in samples_of(family):
        text = page_text(sample)
        for venue in sample.truth.venues:
            if venue.address is not None:
                assert f"{venue.address}, {venue.city}, {venue.state} {venue.zip}".casefold() in text


def test_a_cancelled_night_is_drawn_but_is_not_a_show() -> None:
    cancelled = 0
    for sample in samples_of("card-grid", 12):
        assert sample.html is not None
        headlines = sample.html.count("class='headline'")
        two_days = len(re.findall(r"class='headline'>[A-Z]+S &amp; [A-Z]+S KARAOKE", sample.html))
        badges = sample.html.count("CANCELLED</span>")
        cancelled += badges
        assert len(sample.truth.shows) == headlines + two_days - badges
    assert cancelled > 0, "no page of this seed has a cancelled night to check"


def test_week_view_truth_is_dated_and_the_date_matches_the_shown_day() -> None:
    for sample in samples_of("week-view"):
        text = page_text(sample)
        for show in sample.truth.shows:
            assert show.date is not None and show.day == WEEKDAYS[show.date.weekday()]
            label = f"{show.day.upper()} {show.day.title()[:3]} {show.date.month}/{show.date.day}"
            assert label.casefold() in text  # 'SATURDAY Sat 6/27': no year under the day
        years = {show.date.year for show in sample.truth.shows if show.date}
        assert all(f", {year}" in text for year in years)  # the header carries the year


@pytest.mark.parametrize("family", TRAPS)
def test_traps_have_no_shows(family: str) -> None:
    for sample in samples_of(family, 3):
        assert sample.truth.shows == [] and sample.truth.vendors == []
        if sample.html is not None:
            assert "karaoke" not in page_text(sample)


@pytest.fixture(scope="module")
def flyers() -> list[Sample]:
    """Eight flyers (drawing one takes about a second); this seed has dated ones among them."""
    return samples_of("flyer", 8, seed=7)


def test_flyers_are_small_jpegs_with_their_venue_address_and_company(flyers: list[Sample]) -> None:
    for sample in flyers:
        assert sample.image is not None and 400 <= sample.image.width <= 600
        assert sample.fmt == "jpeg" and 60 <= sample.quality <= 85
        (venue,) = sample.truth.venues
        assert venue.address and venue.city and venue.zip
        assert len(sample.truth.vendors) == 1
        assert all(show.vendor == sample.truth.vendors[0].name for show in sample.truth.shows)


def test_a_dated_flyer_carries_a_capture_time_before_its_date(flyers: list[Sample]) -> None:
    dated = [s for s in flyers if s.truth.shows[0].date is not None]
    assert dated, "no dated flyer among these eight"
    for sample in dated:
        jpeg = Image.open(io.BytesIO(encode_sample(sample, None)))
        taken = jpeg.getexif().get_ifd(0x8769)[0x9003]
        assert taken == sample.captured
        event = sample.truth.shows[0].date
        assert event is not None and taken[:10].replace(":", "-") < event.isoformat()


def test_same_split_seed_and_index_give_the_same_page_and_truth() -> None:
    for index in range(1, 9):
        first, second = draw_sample("dev", 7, index), draw_sample("dev", 7, index)
        assert first.truth == second.truth and first.html == second.html
    assert draw_sample("dev", 7, 1).truth != draw_sample("dev", 8, 1).truth


def test_image_n_does_not_depend_on_how_many_are_asked_for() -> None:
    short = dict(iter_split("dev", 5, 4))
    long = dict(iter_split("dev", 5, 10))
    assert all(long[index].truth == sample.truth for index, sample in short.items())


def test_dev_and_test_splits_share_no_venue_dj_or_company() -> None:
    dev, test = pool_for("dev"), pool_for("test")
    assert not {p.name for p in dev.places} & {p.name for p in test.places}
    assert not set(dev.djs) & set(test.djs) and not set(dev.vendors) & set(test.vendors)
    with pytest.raises(ValueError, match="known splits"):
        pool_for("train")


@pytest.mark.slow  # draws and writes a dozen flyers
def test_drawn_images_are_written_with_truth_and_family_without_a_browser(tmp_path: Path) -> None:
    written = generate_split(tmp_path, split="dev", seed=2, count=24, families=("flyer", "trap-photo"))
    truth = json.loads((tmp_path / TRUTH_FILE).read_text())
    assert set(truth) == set(written) == {p.name for p in tmp_path.glob("*.jpg")}
    assert {entry["family"] for entry in truth.values()} == {"flyer", "trap-photo"}
    for name, entry in truth.items():
        assert written[name][1].to_wire() == {k: v for k, v in entry.items() if k != "family"}


FROZEN = Path(__file__).resolve().parents[1] / "corpus" / "realworld-test"


@pytest.mark.slow  # draws every image (flyers take about a second each)
def test_the_frozen_test_split_is_what_the_generator_says() -> None:
    truth = json.loads((FROZEN / TRUTH_FILE).read_text())
    assert len(truth) == TEST_COUNT + len(TEST_EXTRAS) * TEST_EXTRA_COUNT
    rotation = {n: entry for n, entry in truth.items() if entry["family"] not in TEST_EXTRAS}
    for index, sample in iter_split("test", TEST_SEED, TEST_COUNT):
        (name,) = [n for n in rotation if n.startswith(f"{index:03d}-")]
        assert truth[name] == {"family": sample.family, **sample.truth.to_wire()}
        assert (FROZEN / name).is_file()
    for index, sample in iter_split("test", TEST_SEED, TEST_EXTRA_COUNT, TEST_EXTRAS):
        name = sample_name(index, sample)  # the extension, drawn once by name
        assert truth[name] == {"family": sample.family, **sample.truth.to_wire()}
        assert (FROZEN / name).is_file()
    total = sum(path.stat().st_size for path in FROZEN.iterdir())
    assert total < 25_000_000


def test_the_realistic_examples_carry_the_generators_truth() -> None:
    examples = Path(__file__).resolve().parents[1] / "examples" / "screenshots"
    truth = json.loads((examples / TRUTH_FILE).read_text())
    realistic = sorted(name for name, entry in truth.items() if "family" in entry)
    assert len(realistic) == 3 and all((examples / name).is_file() for name in realistic)
    # made by: python -m pipeline.testing.realworld --split dev --seed 1 --count 3, renamed 013-015,
    # families prefixed 'realworld-' so eval keeps them apart from the synthetic 'flyer' samples
    for index, name in enumerate(realistic, start=1):
        sample = draw_sample("dev", 1, index)
        assert truth[name] == {"family": f"realworld-{sample.family}", **sample.truth.to_wire()}


@pytest.mark.browser
def test_pages_render_in_chromium_with_their_truth_on_screen(tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from pipeline.testing.realworld.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available

    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed (make realworld-deps)")
    # images 1 (card grid, desktop) and 3 (venue pane) of seed 4, and a phone card grid (image 12)
    families = ("card-grid", "venue-pane")
    written = generate_split(tmp_path, split="dev", seed=4, count=12, families=families, keep_html=True)
    assert len(written) >= 3
    for name in written:
        with Image.open(tmp_path / name) as image:
            assert image.width in (1170, 1280, 1366, 1440, 1600, 1920)
        assert (tmp_path / name).with_suffix(".html").read_text().startswith("<!doctype html>")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            for index, sample in iter_split("dev", 4, 12, ("card-grid",)):
                assert sample.html is not None
                tab = browser.new_page()
                tab.set_content(sample.html)
                shown = tab.inner_text("body").casefold()
                tab.close()
                for show in sample.truth.shows:
                    assert show.venue_name.casefold() in shown, (index, show.venue_name)
        finally:
            browser.close()


@pytest.mark.browser
def test_box_capture_gives_each_text_line_its_box_in_the_screenshots_pixels() -> None:
    from pipeline.testing.realworld.browser import chromium_available, open_box_renderer

    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed (make realworld-deps)")
    desktop = draw_sample("dev", 4, 1, "card-grid")
    phone = next(s for i in range(1, 30) if (s := draw_sample("dev", 4, i, "search-results")).viewport.phone)
    with open_box_renderer() as render:
        for sample in (desktop, phone):
            assert sample.html is not None and sample.viewport is not None
            png, boxes = render(sample.html, sample.viewport)
            with Image.open(io.BytesIO(png)) as shot:
                width, height = shot.size
            texts = {text for text, *_ in boxes}
            for show in sample.truth.shows:
                assert show.venue_name in texts
            for _, x0, y0, x1, y1 in boxes:  # phone boxes are scaled to the @3x capture
                assert 0 <= x0 < x1 <= width + 1 and 0 <= y0 < y1 <= height + 1
            venue_heights = [
                y1 - y0 for text, _, y0, _, y1 in boxes if text == sample.truth.shows[0].venue_name
            ]
            assert min(venue_heights) > (30 if sample.viewport.phone else 10)


def test_families_outside_the_rotation_are_drawn_when_asked_for_by_name() -> None:
    drawn = list(iter_split("dev", 5, 3, ("search-results", "flyer")))
    assert [(index, sample.family) for index, sample in drawn] == [
        (1, "search-results"), (2, "flyer"), (2, "search-results"), (3, "search-results")
    ]  # fmt: skip
    assert all(s.family in ROTATION for _, s in iter_split("dev", 5, 30))
