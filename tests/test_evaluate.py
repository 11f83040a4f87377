"""Tests of pipeline/evaluate.py: show matching, per-image and corpus scores, the eval command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.evaluate import (
    Counts,
    add_eval_command,
    count_false_merges,
    match_shows,
    run_eval,
    score_corpus,
    score_image,
    shows_match,
    truth_union,
)
from pipeline.schema import ParsedSchedule, Show, Venue
from pipeline.scores import read_families, read_truth


def show(venue: str, day: str = "friday", start: str = "21:00", **fields: object) -> Show:
    return Show.model_validate({"venue_name": venue, "day": day, "start_time": start} | fields)


@pytest.mark.parametrize(
    ("true", "predicted", "same"),
    [
        (show("The Crescent Lounge"), show("Crescent Lounge"), True),
        (show("Sand Bar Station"), show("Sandbar Station"), True),
        (show("Kelley's Pub"), show("Kelly's Tavern"), False),
        (show("Bar", day="friday"), show("Bar", day="saturday"), False),
        (show("Bar", start="21:00"), show("Bar", start="20:00"), False),
        (
            show("Bar", date=dt.date(2026, 12, 31), day="thursday"),
            show("Bar", date=dt.date(2026, 12, 31), day="thursday"),
            True,
        ),
        (show("Bar", date=dt.date(2026, 12, 31), day="thursday"), show("Bar", day="thursday"), False),
    ],
)
def test_shows_match_on_day_or_date_start_and_fuzzy_venue(true: Show, predicted: Show, same: bool) -> None:
    assert shows_match(true, predicted) is same


def test_matching_is_one_to_one_and_prefers_exact_venues() -> None:
    true = [show("Oties"), show("Oties Tavern & Grill")]
    predicted = [show("Oties Tavern & Grill"), show("Oties Tavern & Grill")]
    assert match_shows(true, predicted) == [(0, 1), (1, 0)]
    assert match_shows([show("Bar")], [show("Bar"), show("Bar")]) == [(0, 0)]


def test_perfect_image_scores_one() -> None:
    truth = ParsedSchedule(shows=[show("Bar", end_time="02:00", dj_name="Max")])
    predicted = ParsedSchedule(shows=[show("The Bar", end_time="02:00", dj_name="DJ Max")])
    counts = score_image("a.png", truth, predicted).counts
    assert (counts.precision, counts.recall, counts.f1) == (1.0, 1.0, 1.0)
    assert (counts.end_time_accuracy, counts.dj_accuracy) == (1.0, 1.0)


def test_missed_and_made_up_shows_lower_f1() -> None:
    truth = ParsedSchedule(shows=[show("Bar"), show("Pub", day="saturday"), show("Inn", day="sunday")])
    predicted = ParsedSchedule(
        shows=[show("Bar", end_time="01:00"), show("Pub", day="saturday", start="20:00"), show("Spa")]
    )
    score = score_image("a.png", truth, predicted)
    counts = score.counts
    assert (counts.matched, counts.true_shows, counts.predicted_shows) == (1, 3, 3)
    assert counts.precision == pytest.approx(1 / 3) and counts.recall == pytest.approx(1 / 3)
    assert counts.f1 < 1
    assert counts.end_time_accuracy == 0.0  # the truth has no end time; 01:00 is wrong
    assert [s.venue_name for s in score.missed] == ["Pub", "Inn"]
    assert [s.venue_name for s in score.spurious] == ["Pub", "Spa"]


def test_address_is_compared_on_matched_shows() -> None:
    truth = ParsedSchedule(
        shows=[show("Bar")],
        venues=[Venue(name="Bar", address="123 Main Street", city="Columbus", state="OH")],
    )
    right = ParsedSchedule(
        shows=[show("Bar")], venues=[Venue(name="Bar", address="123 Main St", city="Columbus", state="OH")]
    )
    wrong = ParsedSchedule(shows=[show("Bar")], venues=[Venue(name="Bar", address="9 Elm St")])
    assert score_image("a", truth, right).counts.address_accuracy == 1.0
    assert score_image("a", truth, wrong).counts.address_accuracy == 0.0
    assert score_image("a", truth, ParsedSchedule(shows=[show("Bar")])).counts.address_checked == 1


def test_counts_with_nothing_to_find_are_perfect() -> None:
    assert Counts().f1 == 1.0 and Counts(true_shows=2).f1 == 0.0


def test_corpus_totals_traps_and_unlabelled_images() -> None:
    truth = {"a.png": ParsedSchedule(shows=[show("Bar")]), "trap.png": ParsedSchedule()}
    predicted = {
        "a.png": ParsedSchedule(shows=[show("Bar")]),
        "trap.png": ParsedSchedule(shows=[show("Trivia Night", day="tuesday")]),
        "extra.png": ParsedSchedule(shows=[show("Bar")]),
    }
    report = score_corpus(truth, predicted, merged=ParsedSchedule(shows=[show("Bar")]))
    assert report.trap_false_positives == 1
    assert report.unlabelled == ["extra.png"]
    assert (report.overall.matched, report.overall.predicted_shows) == (1, 2)
    assert report.merged is not None and report.merged.f1 == 1.0
    assert report.false_merges == 0


def test_false_merge_is_counted_when_the_reducer_joins_two_true_shows() -> None:
    # "Oties" and "Oties Tavern & Grill" are one venue to the reducer; a truth that
    # says they are two places (same night, same start) exposes the merge.
    truth = {
        "a.png": ParsedSchedule(shows=[show("Oties")]),
        "b.png": ParsedSchedule(shows=[show("Oties Tavern & Grill")]),
    }
    assert count_false_merges(truth, truth) == 1
    apart = {
        "a.png": ParsedSchedule(shows=[show("Kelley's Pub")]),
        "b.png": ParsedSchedule(shows=[show("Kelly's Tavern")]),
    }
    assert count_false_merges(apart, apart) == 0


def eval_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="karaoke-pipeline")
    add_eval_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *argv])


def test_eval_command_scores_a_corpus_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.testing.scripted import make_scripted_png

    (tmp_path / "a.png").write_bytes(make_scripted_png())
    truth = {"a.png": ParsedSchedule(shows=[show("Scripted Bar", day="monday")]).to_wire()}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    out = tmp_path / "report.json"
    args = eval_args(str(tmp_path), "--backend", "scripted", "--in-process", "--out", str(out))
    assert run_eval(args) == 0
    report = json.loads(out.read_text())
    assert report["overall"]["matched"] == 1 and report["falseMerges"] == 0
    assert "extraction quality per image" in capsys.readouterr().out


def test_eval_command_without_truth_is_a_usage_error(tmp_path: Path) -> None:
    assert run_eval(eval_args(str(tmp_path), "--in-process")) == 2


def test_read_truth_reads_generator_output(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text(
        json.dumps({"x.png": {"shows": [{"venueName": "Bar", "day": "friday", "startTime": "21:00"}]}})
    )
    assert read_truth(path)["x.png"].shows[0].start_time == "21:00"


def test_the_written_report_carries_the_rates_not_only_the_tallies() -> None:
    truth = {"a.png": ParsedSchedule(shows=[show("Bar"), show("Pub")])}
    report = score_corpus(truth, {"a.png": ParsedSchedule(shows=[show("Bar")])}).to_wire()
    assert report["overall"]["recall"] == 0.5
    assert report["overall"]["f1"] == pytest.approx(2 / 3)


def test_families_sum_their_images_and_count_trap_shows() -> None:
    truth = {
        "001-card-grid.png": ParsedSchedule(
            shows=[show("Bar", end_time="02:00"), show("Pub", day="saturday")]
        ),
        "002-card-grid-phone.png": ParsedSchedule(shows=[show("Inn", dj_name="Steve")]),
        "003-flyer.jpg": ParsedSchedule(shows=[show("Spa")]),
        "004-trap-menu.png": ParsedSchedule(),
    }
    predicted = {
        # one right show (end time wrong), one with the time right but the venue wrong
        "001-card-grid.png": ParsedSchedule(shows=[show("Bar"), show("Sports Bar", day="saturday")]),
        "002-card-grid-phone.png": ParsedSchedule(shows=[show("Inn", dj_name="DJ Steve")]),
        "003-flyer.jpg": ParsedSchedule(shows=[show("Spa")]),
        "004-trap-menu.png": ParsedSchedule(shows=[show("Menu", day="monday"), show("Wings")]),
    }
    families = {"003-flyer.jpg": "flyer", "004-trap-menu.png": "trap-menu"}
    report = score_corpus(truth, predicted, families=families)
    by_name = {family.family: family for family in report.families}
    assert sorted(by_name) == ["card-grid", "flyer", "trap-menu"]  # '-phone' and numbers dropped
    cards = by_name["card-grid"]
    assert (cards.images, cards.trap_images, cards.trap_shows) == (2, 0, 0)
    assert (cards.counts.true_shows, cards.counts.predicted_shows, cards.counts.matched) == (3, 3, 2)
    assert cards.counts.f1 == pytest.approx(2 / 3)
    assert (cards.counts.venue_right, cards.counts.venue_checked) == (2, 3)
    assert cards.counts.end_time_accuracy == 0.5 and cards.counts.dj_accuracy == 1.0
    traps = by_name["trap-menu"]
    assert (traps.images, traps.trap_images, traps.trap_shows) == (1, 1, 2)
    assert by_name["flyer"].counts.f1 == 1.0
    assert report.trap_false_positives == 2
    assert sum(f.counts.matched for f in report.families) == report.overall.matched == 3


def test_family_comes_from_the_truth_entry_else_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text(json.dumps({"007-table.png": {"shows": []}, "x.png": {"family": "flyer", "shows": []}}))
    assert read_families(path) == {"007-table.png": "table", "x.png": "flyer"}
    assert read_truth(path)["x.png"] == ParsedSchedule()  # 'family' does not disturb the schedule


def test_eval_command_prints_and_writes_the_family_breakdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.testing.scripted import make_scripted_png

    (tmp_path / "a.png").write_bytes(make_scripted_png())
    truth = {
        "a.png": {
            "family": "card-grid",
            **ParsedSchedule(shows=[show("Scripted Bar", day="monday")]).to_wire(),
        }
    }
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    out = tmp_path / "report.json"
    assert run_eval(eval_args(str(tmp_path), "--backend", "scripted", "--in-process", "--out", str(out))) == 0
    families = json.loads(out.read_text())["families"]
    assert [(f["family"], f["images"]) for f in families] == [("card-grid", 1)]
    assert set(families[0]["counts"]) >= {"f1", "venueAccuracy", "endTimeAccuracy", "djAccuracy"}
    assert "by layout family" in capsys.readouterr().out


def test_a_weekly_night_and_its_dated_sighting_folded_together_are_no_false_merge() -> None:
    # the truth itself says one weekly Wednesday show, seen dated on 2026-06-10 in another view
    truth = {
        "weekly.png": ParsedSchedule(shows=[show("Blue Heron", day="wednesday")]),
        "dated.png": ParsedSchedule(shows=[show("Blue Heron", day="wednesday", date="2026-06-10")]),
    }
    assert count_false_merges(truth, truth) == 0
    assert len(truth_union(truth).shows) == 1
