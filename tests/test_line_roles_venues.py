"""Tests of the venue stage (pipeline/line_roles/venues.py): the model vets each show's venue line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.backends.local.lines import OcrLine
from pipeline.line_roles.features import FEATURES
from pipeline.line_roles.labels import ROLES
from pipeline.line_roles.model import RoleModel, Tree, load_model
from pipeline.line_roles.venues import choose_venues
from pipeline.schema import ParsedSchedule, Show, Venue

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "screenshots" / "010-table.png"


def _title_model() -> RoleModel:
    """One tree: a block's largest line is a venue (0.9), any other line is an 'area' (0.9)."""
    shares = np.full((3, len(ROLES)), 0.1 / (len(ROLES) - 1))
    shares[0] = 0.0
    shares[1, ROLES.index("venue")] = shares[2, ROLES.index("area")] = 0.0
    shares[1, ROLES.index("area")] = shares[2, ROLES.index("venue")] = 0.9
    tree = Tree(
        feature=np.array([FEATURES.index("largest_in_block"), -1, -1]),
        threshold=np.array([0.5, 0.0, 0.0]),
        left=np.array([1, -1, -1]),
        right=np.array([2, -1, -1]),
        shares=shares,
    )
    return RoleModel(FEATURES, ROLES, (tree,))


def _card(x: float, y: float, title: str, area: str, when: str) -> list[OcrLine]:
    return [
        OcrLine(title, x, y, x + 240, y + 32),
        OcrLine(area, x, y + 38, x + 70, y + 52),
        OcrLine(when, x, y + 58, x + 210, y + 74),
    ]


LINES = [
    *_card(20, 20, "The Tipsy Crow", "Midtown", "Wed 9:00 PM - 1:00 AM"),
    *_card(320, 20, "Harbor House", "Midtown", "Fri 8PM-12AM"),
    *_card(20, 300, "Main Street Tap", "Riverside", "Sat 10pm-2am"),
]


def test_a_show_named_after_a_line_the_model_rejects_takes_the_venue_line_of_its_card() -> None:
    parsed = ParsedSchedule(
        venues=[Venue(name="Midtown", address="12 Main St"), Venue(name="Main Street Tap")],
        shows=[
            Show(venue_name="Midtown", day="wednesday", start_time="21:00"),
            Show(venue_name="Midtown", day="friday", start_time="20:00"),
            Show(venue_name="Main Street Tap", day="saturday", start_time="22:00"),
        ],
    )
    chosen = choose_venues(LINES, parsed, _title_model())
    # each 'Midtown' goes to the title of the card whose time the show has
    assert [show.venue_name for show in chosen.shows] == ["The Tipsy Crow", "Harbor House", "Main Street Tap"]
    venues = {venue.name: venue for venue in chosen.venues}
    assert set(venues) == {"The Tipsy Crow", "Harbor House", "Main Street Tap"}
    assert venues["The Tipsy Crow"].address == "12 Main St"  # the address read for the rejected name


def test_a_venue_the_model_accepts_or_cannot_place_is_left_as_the_rules_read_it() -> None:
    parsed = ParsedSchedule(
        shows=[
            Show(venue_name="Main Street Tap", day="saturday", start_time="22:00"),
            Show(venue_name="Nowhere On The Page", day="friday", start_time="20:00"),
        ]
    )
    assert choose_venues(LINES, parsed, _title_model()) == parsed
    assert choose_venues([], parsed, _title_model()) == parsed
    assert choose_venues(LINES, ParsedSchedule(), _title_model()) == ParsedSchedule()


def test_no_replacement_far_from_the_rejected_line() -> None:
    lines = [OcrLine("The Tipsy Crow", 20, 20, 260, 52), OcrLine("Midtown", 20, 900, 90, 914)]
    lines += [OcrLine("Wed 9PM-1AM", 20, 920, 200, 934)]
    parsed = ParsedSchedule(shows=[Show(venue_name="Midtown", day="wednesday", start_time="21:00")])
    assert choose_venues(lines, parsed, _title_model()) == parsed


def test_the_committed_model_keeps_a_card_title_as_its_venue() -> None:
    parsed = ParsedSchedule(shows=[Show(venue_name="The Tipsy Crow", day="wednesday", start_time="21:00")])
    assert choose_venues(LINES, parsed, load_model()) == parsed


def test_a_venue_cut_out_of_a_show_line_or_a_table_cell_is_left_to_the_rules() -> None:
    model = _title_model()
    lines = [
        OcrLine("Karaoke this week", 20, 20, 400, 60),  # the block's largest: 'venue' to this model
        OcrLine("SAT - Harbor House 9PM-1AM", 20, 70, 300, 86),
        OcrLine("Main Street Tap", 20, 110, 160, 126),  # a table's venue cell, its time beside it
        OcrLine("10pm-2am", 200, 110, 280, 126),
    ]
    parsed = ParsedSchedule(
        shows=[
            Show(venue_name="Harbor House", day="saturday", start_time="21:00"),
            Show(venue_name="Main Street Tap", day="saturday", start_time="22:00"),
        ]
    )
    assert choose_venues(lines, parsed, model) == parsed


def test_a_name_joined_with_the_smaller_line_under_it_keeps_the_venue_part() -> None:
    lines = [
        OcrLine("Mulligan's Irish Pub", 20, 20, 260, 50),
        OcrLine("East Village", 20, 56, 120, 70),
        OcrLine("Mon 9PM-1AM", 20, 76, 160, 90),
    ]
    parsed = ParsedSchedule(
        shows=[Show(venue_name="Mulligan's Irish Pub East Village", day="monday", start_time="21:00")]
    )
    chosen = choose_venues(lines, parsed, _title_model())
    assert [show.venue_name for show in chosen.shows] == ["Mulligan's Irish Pub"]
    wrapped = [
        OcrLine("Liberty Ale", 20, 20, 130, 36),
        OcrLine("House", 20, 40, 80, 56),
    ]  # same type: one name
    parsed = ParsedSchedule(shows=[Show(venue_name="Liberty Ale House", day="monday", start_time="21:00")])
    assert choose_venues(wrapped, parsed, _title_model()) == parsed


def test_a_table_cell_wrapped_in_smaller_type_is_left_to_the_rules() -> None:
    """A phone table's venue cell 'The Rusty' / 'Anchor' (no descender: a shorter OCR box), a
    time beside it on its row: the rules read the cell by its column; the model never cuts it."""
    lines = [
        OcrLine("The Rusty", 20, 20, 130, 50),
        OcrLine("Anchor", 20, 54, 100, 76),
        OcrLine("10PM-2AM", 200, 22, 300, 48),
    ]
    parsed = ParsedSchedule(shows=[Show(venue_name="The Rusty Anchor", day="thursday", start_time="22:00")])
    assert choose_venues(lines, parsed, _title_model()) == parsed


def test_the_local_backend_asks_the_stage_only_when_line_roles_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image as PilImage

    from pipeline.backends.base import LocalOptions
    from pipeline.backends.local.engine import LocalBackend
    from pipeline.line_roles import venues

    asked: list[int] = []

    def counting_model() -> RoleModel:
        asked.append(1)
        return load_model()

    monkeypatch.setattr(venues, "committed_model", counting_model)
    image = PilImage.open(EXAMPLE)
    off = LocalBackend(LocalOptions(line_roles=False)).extract(image).schedule
    assert asked == [] and off.shows
    on = LocalBackend(LocalOptions()).extract(image).schedule
    assert asked == [1] and [s.start_time for s in on.shows] == [s.start_time for s in off.shows]


def test_line_roles_are_on_by_default_and_one_setting_turns_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.backends.base import options_for
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    try:
        assert options_for("local").line_roles is True
        monkeypatch.setenv("KARAOKE_LINE_ROLES", "0")
        get_settings.cache_clear()
        assert options_for("local").line_roles is False
    finally:
        get_settings.cache_clear()


def test_the_model_ships_inside_the_package() -> None:
    """An installed wheel has no data/ folder: the backend's model lives beside its code."""
    from pipeline.line_roles import model

    assert model.MODEL_FILE.parent == Path(model.__file__).parent and model.MODEL_FILE.is_file()


def test_the_wrapped_tail_of_another_shows_line_never_replaces_a_venue() -> None:
    """'Tavern' nearly touches the Tuesday line above it: that line's rest, not a title."""
    lines = [
        OcrLine("TUESDAY 8PM - 1AM KJ Mike @ Dublin Village", 24, 254, 743, 286),
        OcrLine("Tavern", 24, 289, 140, 321),
        OcrLine("EVERY WEDNESDAY 20:30-00:30 KJ Carlos @", 24, 326, 730, 350),
        OcrLine("Back Porch", 24, 362, 168, 380),
    ]
    parsed = ParsedSchedule(shows=[Show(venue_name="Back Porch", day="wednesday", start_time="20:30")])
    model = _title_model()
    roles = model.probabilities(lines)
    assert roles[1].argmax() == ROLES.index("venue") and roles[3].argmax() == ROLES.index("area")
    assert choose_venues(lines, parsed, model) == parsed
