"""Truth of the realistic families outside the rotation: closed cards, day tabs, ordinal days, logo flyers."""

from __future__ import annotations

import html
import re

import pytest

from pipeline.dates import find_day_phrases
from pipeline.testing.realworld.corpus import draw_sample
from pipeline.testing.realworld.pages_status import CLOSED_STATUSES
from pipeline.testing.realworld.sample import Sample


def samples_of(family: str, count: int = 10, seed: int = 3) -> list[Sample]:
    return [draw_sample("dev", seed, index, family) for index in range(1, count + 1)]


def cards_of(sample: Sample) -> list[str]:
    """The visible text of each card of a page, folded."""
    assert sample.html is not None
    chunks = sample.html.split("<div class='card'")[1:]
    return [html.unescape(re.sub(r"<[^>]+>", " ", chunk)).casefold() for chunk in chunks]


def test_a_closed_card_is_drawn_but_is_no_show_and_open_cards_are() -> None:
    closed_seen = 0
    for sample in samples_of("closed-cards"):
        shows = {show.venue_name.casefold() for show in sample.truth.shows}
        for card in cards_of(sample):
            venue = re.sub(r"\s+", " ", card).strip()
            closed = any(status.casefold() in card for status in CLOSED_STATUSES)
            named = [name for name in shows if name in venue]
            assert bool(named) != closed, card  # an open card is a show, a closed one is not
            closed_seen += closed
        assert all(v.name.casefold() in shows for v in sample.truth.venues)  # no venue of a closed card
    assert closed_seen >= 10


def test_day_tab_cards_carry_no_day_and_every_show_is_on_the_selected_tab() -> None:
    kinds = set()
    for sample in samples_of("day-tabs", 16):
        assert sample.html is not None
        days = {show.day for show in sample.truth.shows}
        assert len(days) == 1 and sample.truth.shows
        (day,) = days
        assert day is not None
        for card in cards_of(sample):
            assert not find_day_phrases(card), card  # the card never names its day
        tabs = html.unescape(re.sub(r"<[^>]+>", " ", sample.html.split("<div class='card'")[0]))
        kinds.add("full" if day.upper() in tabs else "heading" if day.title() in tabs else "colour")
        highlighted = re.findall(r"background:#[0-9a-f]{6};color:#fff;'>(\w+)<", sample.html)
        assert [label.lower()[:3] for label in highlighted] == [day[:3]]  # one tab stands out: the day's
    assert kinds == {"full", "heading", "colour"}


def test_an_ordinal_night_keeps_its_weekday_and_its_rule_as_the_dates_module_reads_it() -> None:
    rules = weekly = 0
    for sample in samples_of("ordinal-days"):
        text = html.unescape(re.sub(r"<[^>]+>", " ", sample.html or ""))
        for show in sample.truth.shows:
            if show.description is None:
                weekly += 1
                continue
            rules += 1
            assert show.description in text
            phrases = find_day_phrases(show.description)
            assert [day for phrase in phrases for day in phrase.days] == [show.day], show.description
    assert rules >= 10 and weekly >= 5


@pytest.fixture(scope="module")
def logo_flyers() -> list[Sample]:
    return samples_of("logo-flyer", 6)


def test_a_logo_flyer_is_a_small_jpeg_whose_truth_names_the_company_apart_from_the_venue(
    logo_flyers: list[Sample],
) -> None:
    for sample in logo_flyers:
        assert sample.image is not None and 420 <= sample.image.width <= 600 and sample.fmt == "jpeg"
        (venue,) = sample.truth.venues
        (vendor,) = sample.truth.vendors
        assert venue.address and venue.zip and vendor.name != venue.name
        assert [show.vendor for show in sample.truth.shows] == [vendor.name]


def test_new_families_draw_phones_and_desktops_and_both_themes() -> None:
    for family in ("closed-cards", "day-tabs", "ordinal-days"):
        drawn = samples_of(family, 16)
        assert {s.viewport.phone for s in drawn if s.viewport is not None} == {True, False}, family
        assert all(not s.truth.shows or s.truth.shows[0].start_time for s in drawn)
    themes = {"#121317" in (s.html or "") for s in samples_of("closed-cards", 16)}
    assert themes == {True, False}
