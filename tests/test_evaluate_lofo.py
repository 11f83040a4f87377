"""Tests of ``eval --leave-one-family-out`` (pipeline/evaluate_lofo.py) on the committed training table."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.evaluate_lofo import LofoReport, Scored, leave_one_family_out, read_schedule, scored_from_table
from pipeline.line_roles.model import fit
from pipeline.line_roles.table import LINES_FILE, Image, read_table, write_table
from pipeline.schema import ParsedSchedule

FAMILIES = ("card-grid", "search-results", "trap-menu")


@pytest.fixture(scope="module")
def table() -> list[Image]:
    return read_table(LINES_FILE)


@pytest.fixture(scope="module")
def small(table: list[Image], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two images of each of three families, with their truth beside them, as a table file."""
    picked = [image for family in FAMILIES for image in [i for i in table if i.family == family][:2]]
    folder = tmp_path_factory.mktemp("lofo")
    write_table(picked, folder / "lines.csv.gz")
    with gzip.open(LINES_FILE.with_name("truth.json.gz"), "rt", encoding="utf-8") as handle:
        truths = json.load(handle)
    with gzip.open(folder / "truth.json.gz", "wt", encoding="utf-8") as handle:
        json.dump({image.name: truths[image.name] for image in picked}, handle)
    return folder / "lines.csv.gz"


def test_each_family_is_scored_by_a_model_that_never_saw_it(table: list[Image], small: Path) -> None:
    scored = scored_from_table(small)
    assert {item.family for item in scored} == set(FAMILIES)
    report = leave_one_family_out(scored, table)
    assert [family.family for family in report.families] == sorted(FAMILIES)
    total = sum(len(image.lines) for image in table)
    for family in report.families:
        held_out = sum(len(image.lines) for image in table if image.family == family.family)
        count = sum(image.family == family.family for image in table)
        assert family.training_lines == total - held_out and family.images == min(count, 2)
    shown = [f for f in report.families if f.rules.true_shows]
    assert len(shown) == 2  # the trap has no shows: no F1, its shows are counted instead
    assert report.rules_f1 == pytest.approx(sum(f.rules.f1 for f in shown) / 2, abs=1e-4)
    assert report.model_f1 == pytest.approx(sum(f.model.f1 for f in shown) / 2, abs=1e-4)
    trap = next(f for f in report.families if f.family == "trap-menu")
    assert report.trap_shows_rules == trap.rules.predicted_shows
    assert report.parse_ms_rules > 0 and report.parse_ms_model > 0


def test_the_model_changes_only_venues_of_what_the_rules_read(table: list[Image]) -> None:
    model = fit(table)
    for image in [i for i in table if i.family == "search-results"][:3]:
        rules = read_schedule(image.lines, dt.date(2026, 12, 5), None)
        learned = read_schedule(image.lines, dt.date(2026, 12, 5), model)
        assert [(s.day, s.start_time, s.dj_name) for s in rules.shows] == [
            (s.day, s.start_time, s.dj_name) for s in learned.shows
        ]


def test_the_eval_command_reports_leave_one_family_out(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "lofo.json"
    assert main(["eval", str(small), "--leave-one-family-out", "--out", str(out)]) == 0
    report = LofoReport.model_validate_json(out.read_text())
    assert {family.family for family in report.families} == set(FAMILIES)


def test_a_folder_without_truth_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["eval", str(tmp_path), "--leave-one-family-out"]) == 2
    assert main(["eval", str(tmp_path), "--leave-one-theme-out"]) == 2  # themes: the table only


def test_each_theme_is_scored_by_a_model_fitted_without_it(table: list[Image], small: Path) -> None:
    from pipeline.line_roles.dataset import theme_of

    themes = {image.name: theme_of(image.name, image.family) for image in table}
    assert set(themes.values()) == {"dark", "light", "drawn"}  # drawn: flyers and photos
    assert all(themes[image.name] == "drawn" for image in table if image.family == "flyer")
    scored = scored_from_table(small)
    report = leave_one_family_out(scored, table, group=lambda name, family: themes[name])
    assert report.by == "theme"
    total = sum(len(image.lines) for image in table)
    for theme in report.families:
        held_out = sum(len(image.lines) for image in table if themes[image.name] == theme.family)
        assert theme.training_lines == total - held_out
        assert theme.images == sum(themes[item.name] == theme.family for item in scored)


def test_scored_items_carry_truth_and_family(small: Path) -> None:
    item = scored_from_table(small)[0]
    assert isinstance(item, Scored) and isinstance(item.truth, ParsedSchedule) and item.lines
