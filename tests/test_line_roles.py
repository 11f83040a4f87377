"""Tests of the line-role data and model (pipeline/line_roles): labels, features, table, fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends.local.lines import OcrLine
from pipeline.line_roles.dataset import align, knowledge_of
from pipeline.line_roles.features import FEATURES, line_features
from pipeline.line_roles.labels import ROLES, Knowledge, role_of
from pipeline.line_roles.model import MODEL_FILE, RoleModel, Tree, fit, load_model
from pipeline.line_roles.table import LINES_FILE, Image, Line, read_table, write_table
from pipeline.schema import ParsedSchedule, Show
from pipeline.testing.realworld.corpus import draw_sample
from pipeline.testing.realworld.world import pool_for


@pytest.fixture(scope="module")
def known() -> Knowledge:
    truth = ParsedSchedule(shows=[Show(venue_name="Harbor House", day="friday", start_time="21:00")])
    places = [
        ("Harbor House", "12 Main St", "Tampa", "Pub"),
        ("The Dugout", "9 Oak Ave", "Mesa", "Dive Bar"),
    ]
    return Knowledge.of(truth, places=places, djs=("Steve",), brands=("SingSpot",), trap=False)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Harbor House", "venue"),
        ("The Dugout", "listing"),  # a venue of the directory with no show on this image
        ("12 Main St, Tampa, FL 33601", "address"),
        ("(813) 555-0134", "address"),
        ("FRIDAYS KARAOKE 9PM-1AM with DJ Steve", "when"),
        ("with DJ Steve", "host"),
        ("Tampa", "area"),
        ("Dive Bar", "tag"),
        ("SingSpot", "brand"),
        ("FACEBOOK PAGE", "other"),
    ],
)
def test_a_text_element_is_named_by_the_samples_data(known: Knowledge, text: str, role: str) -> None:
    assert role_of(text, known) == role


def test_ocr_slips_are_forgiven_only_when_asked_and_trap_lines_are_other(known: Knowledge) -> None:
    assert role_of("Harbar House", known) == "other"
    assert role_of("Harbar House", known, fuzzy=True) == "venue"
    trap = Knowledge.of(ParsedSchedule(), places=[("Harbor House", "", "", "")], djs=(), brands=(), trap=True)
    assert role_of("Harbor House", trap) == "other"


def test_an_ocr_line_takes_the_role_of_the_element_boxes_covering_most_of_it(known: Knowledge) -> None:
    elements = [
        ("Harbor House", 10.0, 10.0, 210.0, 40.0),
        ("Tampa", 10.0, 44.0, 80.0, 58.0),
        ("FRIDAYS 9PM-1AM", 10.0, 62.0, 180.0, 78.0),
    ]
    ocr = [
        OcrLine("Harbor House", 8, 9, 205, 41),
        OcrLine("Tampa", 10, 45, 78, 57),
        OcrLine("FRIDAYS 9PM-1AM", 12, 63, 176, 79),
        OcrLine("stray", 400, 400, 450, 420),  # over no element
    ]
    assert align(ocr, elements, known) == ["venue", "area", "when", "other"]


def test_knowledge_of_a_sample_comes_from_the_dev_pools_and_its_truth() -> None:
    sample = draw_sample("dev", 3, 1, "card-grid")
    known = knowledge_of(sample)
    assert {s.venue_name.casefold() for s in sample.truth.shows} == set(known.venues)
    assert known.venues <= known.places and not known.trap


def _card(dy: float = 0.0) -> list[OcrLine]:
    return [
        OcrLine("The Tipsy Crow", 20, 20 + dy, 260, 52 + dy),
        OcrLine("Midtown", 20, 58 + dy, 90, 72 + dy),
        OcrLine("KJ Rae", 20, 78 + dy, 80, 92 + dy),
        OcrLine("Wed · 9:00 PM - 1:00 AM", 20, 98 + dy, 230, 114 + dy),
    ]


def test_features_describe_a_line_against_its_block_and_the_tagger() -> None:
    lines = [*_card(), *_card(400)]
    features = line_features(lines)
    assert features.shape == (8, len(FEATURES))
    column = {name: features[:, FEATURES.index(name)] for name in FEATURES}
    assert column["largest_in_block"].tolist() == [1, 0, 0, 0] * 2  # the title is its card's largest
    assert column["first_in_block"].tolist() == [1, 0, 0, 0] * 2  # 400 px apart: two blocks
    assert column["own_time"].tolist() == [0, 0, 0, 1] * 2 and column["own_day"][3] == 1
    assert column["own_host"][2] == 1 and column["below_time"][2] == 1
    assert line_features([]).shape == (0, len(FEATURES))


def test_the_table_reads_back_what_was_written_byte_for_byte(tmp_path: Path) -> None:
    images = [
        Image("a.png", "card-grid", (Line('Tom\'s "Bar", Inc', 1.25, 2, 3, 4, 0.9876, "venue"),)),
        Image("b.png", "flyer", (Line("9PM", 0, 0, 5, 5, 1.0, "when"), Line("x", 1, 1, 2, 2, 0.5, "other"))),
    ]
    first, second = tmp_path / "one.csv.gz", tmp_path / "two.csv.gz"
    write_table(images, first)
    write_table(read_table(first), second)
    assert first.read_bytes() == second.read_bytes()
    back = read_table(first)
    assert [image.name for image in back] == ["a.png", "b.png"]
    assert back[0].lines[0].text == 'Tom\'s "Bar", Inc' and back[0].lines[0].x0 == pytest.approx(
        1.2, abs=0.06
    )


def test_the_committed_table_is_small_labelled_and_never_from_the_test_split() -> None:
    images = read_table(LINES_FILE)
    assert LINES_FILE.stat().st_size < 3_000_000
    assert len(images) >= 30
    roles = {line.role for image in images for line in image.lines}
    assert roles <= set(ROLES) and {"venue", "when", "host", "address"} <= roles
    test_venues = {p.name for p in pool_for("test").places}
    texts = {line.text for image in images for line in image.lines}
    assert not texts & test_venues


def test_the_committed_model_is_what_the_committed_table_trains() -> None:
    committed = json.loads(MODEL_FILE.read_text())
    fresh = fit(read_table(LINES_FILE)).to_json()
    assert fresh["features"] == committed["features"] and fresh["roles"] == committed["roles"]
    assert len(fresh["trees"]) == len(committed["trees"])
    for mine, theirs in zip(fresh["trees"], committed["trees"], strict=True):
        for key in ("feature", "left", "right"):
            assert mine[key] == theirs[key], key
        np.testing.assert_allclose(mine["threshold"], theirs["threshold"], rtol=1e-9)
        np.testing.assert_allclose(mine["shares"], theirs["shares"], atol=1e-4)


def test_the_model_loads_without_scikit_learn_and_gives_probabilities() -> None:
    model = load_model()
    lines = [*_card(), *_card(400)]
    probabilities = model.probabilities(lines)
    assert probabilities.shape == (8, len(ROLES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)  # shares kept to 4 digits
    best = [model.roles[i] for i in probabilities.argmax(axis=1)]
    assert best[1:4] == best[5:8] == ["area", "host", "when"]
    venue = probabilities[:, model.column("venue")]
    assert venue[0] == venue[:4].max() and venue[4] == venue[4:].max()  # the title is the likeliest venue
    assert model.probabilities([]).shape == (0, len(ROLES))


def test_a_model_for_other_features_is_refused() -> None:
    data = load_model().to_json()
    data["features"] = ["something", *data["features"][1:]]  # type: ignore[index]
    with pytest.raises(ValueError, match="retrain"):
        RoleModel.from_json(data)


def test_a_stored_tree_sends_each_line_to_its_leaf() -> None:
    feature = FEATURES.index("largest_in_block")
    shares = np.zeros((3, len(ROLES)))
    shares[1, ROLES.index("area")] = shares[2, ROLES.index("venue")] = 1.0
    tree = Tree(
        np.array([feature, -1, -1]),
        np.array([0.5, 0, 0]),
        np.array([1, -1, -1]),
        np.array([2, -1, -1]),
        shares,
    )
    model = RoleModel(FEATURES, ROLES, (tree,))
    best = [model.roles[i] for i in model.probabilities(_card()).argmax(axis=1)]
    assert best == ["venue", "area", "area", "area"]
    assert RoleModel.from_json(json.loads(json.dumps(model.to_json()))).to_json() == model.to_json()
