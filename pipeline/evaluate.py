"""Score extracted schedules against labelled ground truth, and the ``eval`` command.

A predicted show matches a true one when they share the day (or, for a dated
one-off, the date), the start time and the venue (fuzzily, with the reducer's
own matcher). Matching is one to one, so a show found twice counts once and the
second copy is a false positive. On matched shows the end time, DJ (compared
without 'DJ'/'KJ'/'@') and venue address (street, city, state, zip) are checked.

Beyond per-image precision and recall, three failures the product must never
make are counted over the whole corpus: shows read from trap images (no karaoke
in the truth), false merges (the reducer joined shows that the truth says are
different) and the merged output's own precision and recall (under-merged
duplicates lower its precision).

Venue accuracy asks "which line is the venue": of the true shows whose day (or
date) and start time were found at all, the share that also has the right venue.
Every figure is also given per layout family (``pipeline.scores``).

Truth files map image file names to ParsedSchedule JSON, the shape the
synthetic generator writes (``truth.json``); users can label their own. An
entry may add ``family`` (the realistic corpus does); without it the family
comes from the file name ('007-table.png' is 'table').
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.clean import dj_key, venue_key
from pipeline.eval_report import EvalReport, report_tables
from pipeline.matching import street_key, venue_names_match
from pipeline.parse_files import parse_paths
from pipeline.reduce import ScheduleReducer
from pipeline.schema import ParsedSchedule, Show, Venue
from pipeline.scores import (
    Counts,
    ImageScore,
    family_of,
    read_families,
    read_truth,
    score_families,
)

if TYPE_CHECKING:
    from rich.console import Console

    from pipeline.schema import ParseResponse

__all__ = [
    "Counts",
    "EvalReport",
    "ImageScore",
    "add_eval_command",
    "count_false_merges",
    "match_shows",
    "run_eval",
    "score_corpus",
    "score_image",
    "shows_match",
]


def _when(show: Show) -> str:
    return show.date.isoformat() if show.date is not None else (show.day or "")


def shows_match(true: Show, predicted: Show) -> bool:
    """Same day or date, same start time and the same venue (fuzzily)."""
    return (
        _when(true) == _when(predicted)
        and true.start_time == predicted.start_time
        and venue_names_match(true.venue_name, predicted.venue_name)
    )


def match_shows(true: Sequence[Show], predicted: Sequence[Show]) -> list[tuple[int, int]]:
    """One-to-one ``(true index, predicted index)`` pairs; exact venue keys are paired first."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for exact in (True, False):
        for t_index, t_show in enumerate(true):
            if any(pair[0] == t_index for pair in pairs):
                continue
            for p_index, p_show in enumerate(predicted):
                same_key = venue_key(t_show.venue_name) == venue_key(p_show.venue_name)
                if p_index not in used and (same_key or not exact) and shows_match(t_show, p_show):
                    pairs.append((t_index, p_index))
                    used.add(p_index)
                    break
    return sorted(pairs)


def venue_blind_pairs(
    true: Sequence[Show], predicted: Sequence[Show], matched: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``matched`` plus, one to one, pairs that share only day (or date) and start time.

    The extra pairs are shows whose time was read but whose venue is wrong: the
    venue accuracy is ``len(matched) / len(these pairs)``.
    """
    pairs = list(matched)
    used = {p for _, p in pairs}
    for t_index, t_show in enumerate(true):
        if any(pair[0] == t_index for pair in pairs):
            continue
        for p_index, p_show in enumerate(predicted):
            same_time = _when(t_show) == _when(p_show) and t_show.start_time == p_show.start_time
            if p_index not in used and same_time:
                pairs.append((t_index, p_index))
                used.add(p_index)
                break
    return sorted(pairs)


def _address(schedule: ParsedSchedule, venue_name: str) -> tuple[str, str, str, str] | None:
    """The normalised address the schedule gives for a venue, if any."""
    venues: list[Venue] = [v for v in schedule.venues if venue_names_match(v.name, venue_name)]
    for venue in venues:
        if venue.address or venue.city or venue.zip:
            parts = (
                street_key(venue.address or ""),
                (venue.city or "").lower(),
                venue.state or "",
                venue.zip or "",
            )
            return parts
    return None


def _pair_counts(truth: ParsedSchedule, predicted: ParsedSchedule, pairs: list[tuple[int, int]]) -> Counts:
    end_right = dj_right = checked = address_right = 0
    for t_index, p_index in pairs:
        true, guess = truth.shows[t_index], predicted.shows[p_index]
        end_right += true.end_time == guess.end_time
        dj_right += dj_key(true.dj_name or "") == dj_key(guess.dj_name or "")
        true_address = _address(truth, true.venue_name)
        guessed_address = _address(predicted, guess.venue_name)
        if true_address is not None or guessed_address is not None:
            checked += 1
            address_right += true_address == guessed_address
    return Counts(
        true_shows=len(truth.shows),
        predicted_shows=len(predicted.shows),
        matched=len(pairs),
        venue_checked=len(venue_blind_pairs(truth.shows, predicted.shows, pairs)),
        venue_right=len(pairs),
        end_time_right=end_right,
        dj_right=dj_right,
        address_checked=checked,
        address_right=address_right,
    )


def score_image(
    name: str,
    truth: ParsedSchedule,
    predicted: ParsedSchedule,
    error: str | None = None,
    family: str | None = None,
) -> ImageScore:
    """Score one image's predicted schedule against its truth (``family`` defaults from the name)."""
    pairs = match_shows(truth.shows, predicted.shows)
    matched_true = {t for t, _ in pairs}
    matched_predicted = {p for _, p in pairs}
    return ImageScore(
        name=name,
        family=family or family_of(name),
        counts=_pair_counts(truth, predicted, pairs),
        trap=not truth.shows,
        error=error,
        missed=[s for i, s in enumerate(truth.shows) if i not in matched_true],
        spurious=[s for i, s in enumerate(predicted.shows) if i not in matched_predicted],
    )


def count_false_merges(truth: Mapping[str, ParsedSchedule], predicted: Mapping[str, ParsedSchedule]) -> int:
    """How many times the reducer joined predicted shows that match different true shows.

    Each predicted show is tagged in ``sources`` (the reducer unites sources), so
    every merged show tells which per-image shows it absorbed. A merged show
    holding shows of k different true identities counts k - 1 false merges. A true
    show's identity is the show of the truth's union it belongs to, so that a weekly
    night and its dated sightings, which the union folds into one, are one identity.
    """
    union = _union_identities(truth)
    reducer = ScheduleReducer()
    identities: dict[str, int] = {}
    for name, schedule in sorted(predicted.items()):
        true_shows = truth[name].shows if name in truth else []
        matched = dict((p, t) for t, p in match_shows(true_shows, schedule.shows))
        tagged: list[Show] = []
        for index, show in enumerate(schedule.shows):
            tag = f"{name}#{index}"
            tagged.append(show.model_copy(update={"sources": [tag]}))
            if index in matched:
                identities[tag] = union[f"{name}#{matched[index]}"]
        reducer.add(ParsedSchedule(shows=tagged), name)
    merges = 0
    for show in reducer.result().shows:
        merges += max(len({identities[s] for s in show.sources if s in identities}) - 1, 0)
    return merges


def _union_identities(truth: Mapping[str, ParsedSchedule]) -> dict[str, int]:
    """Which show of the truth's union each true show (``image#index``) ends up in."""
    tagged = {
        name: ParsedSchedule(
            shows=[show.model_copy(update={"sources": [f"{name}#{i}"]}) for i, show in enumerate(s.shows)]
        )
        for name, s in truth.items()
    }
    union = truth_union(tagged)
    return {source: number for number, show in enumerate(union.shows) for source in show.sources}


def truth_union(truth: Mapping[str, ParsedSchedule]) -> ParsedSchedule:
    """Every true show once: the truth of all images merged on exact identity."""
    reducer = ScheduleReducer(venues_match=None)
    for name, schedule in sorted(truth.items()):
        reducer.add(schedule, name)
    return reducer.result()


def score_corpus(
    truth: Mapping[str, ParsedSchedule],
    predicted: Mapping[str, ParsedSchedule],
    *,
    merged: ParsedSchedule | None = None,
    errors: Mapping[str, str] | None = None,
    families: Mapping[str, str] | None = None,
) -> EvalReport:
    """Score every labelled image; ``merged`` (the pipeline's combined output) adds a merged row.

    ``families`` (image name -> layout family, see ``read_families``) groups the
    images for the per-family figures; by default the family comes from the name.

    Images in ``predicted`` without truth are listed as unlabelled; labelled
    images missing from ``predicted`` score as if nothing was found.
    """
    errors, families = errors or {}, families or {}
    scores = [
        score_image(
            name, schedule, predicted.get(name, ParsedSchedule()), errors.get(name), families.get(name)
        )
        for name, schedule in sorted(truth.items())
    ]
    overall = Counts()
    for score in scores:
        overall = overall.plus(score.counts)
    labelled = {name: schedule for name, schedule in predicted.items() if name in truth}
    return EvalReport(
        images=scores,
        overall=overall,
        merged=score_image("merged", truth_union(truth), merged).counts if merged is not None else None,
        families=score_families(scores),
        false_merges=count_false_merges(truth, labelled),
        trap_false_positives=sum(s.counts.predicted_shows for s in scores if s.trap),
        unlabelled=sorted(set(predicted) - set(truth)),
    )


# --- the ``eval`` command ------------------------------------------------------------


def add_eval_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``eval PATH --truth FILE [--backend] [--workers N] [--out FILE]`` on the CLI."""
    from pipeline.backends.base import OPTIONS_BY_KIND
    from pipeline.runner import MAX_WORKERS, MIN_WORKERS

    command = subparsers.add_parser(
        "eval", help="parse labelled screenshots and score them against the truth"
    )
    command.add_argument("path", type=Path, metavar="PATH", help="an image directory (or one image)")
    command.add_argument("--truth", type=Path, help="truth JSON (default: PATH/truth.json)")
    command.add_argument("--backend", choices=sorted(OPTIONS_BY_KIND), help="default: $KARAOKE_BACKEND")
    command.add_argument(
        "--workers", type=int, choices=range(MIN_WORKERS, MAX_WORKERS + 1), default=3, help="worker actors"
    )
    command.add_argument("--timeout", type=float, default=60.0, help="per-image deadline in seconds")
    command.add_argument("--out", type=Path, help="write the report (JSON) here")
    command.add_argument("--in-process", action="store_true", help="no Ray: one image at a time here")


def _truth_path(args: argparse.Namespace) -> Path:
    from pipeline.errors import ConfigError

    path: Path = args.truth or (
        args.path / "truth.json" if args.path.is_dir() else args.path.parent / "truth.json"
    )
    if not path.is_file():
        raise ConfigError(f"no truth file at {path}; pass --truth FILE")
    return path


def _run_pipeline(args: argparse.Namespace, err: Console) -> ParseResponse:
    """Parse PATH the way ``karaoke-pipeline parse`` does (on Ray unless --in-process), uncached."""
    return parse_paths(
        [args.path],
        backend=args.backend,
        workers=1 if args.in_process else args.workers,
        timeout_s=args.timeout,
        use_cache=False,
        in_process=args.in_process,
        progress=err,
    )


def report_from_response(
    response: ParseResponse, truth: Mapping[str, ParsedSchedule], families: Mapping[str, str] | None = None
) -> EvalReport:
    """Score a pipeline response: each result under its file name, and the merged output."""
    predicted = {Path(result.source).name: result.data for result in response.results}
    errors = {Path(r.source).name: r.error.code for r in response.results if r.error is not None}
    return score_corpus(truth, predicted, merged=response.data, errors=errors, families=families)


def run_eval(args: argparse.Namespace) -> int:
    """Run ``eval``: 0 when scored, 1 when every image failed, 2 for usage errors."""
    from rich.console import Console

    from pipeline.errors import ConfigError

    err = Console(stderr=True)
    try:
        truth_path = _truth_path(args)
        truth, families = read_truth(truth_path), read_families(truth_path)
        response = _run_pipeline(args, err)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 2
    report = report_from_response(response, truth, families)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report.to_wire_json(indent=2) + "\n", encoding="utf-8")
    console = Console()
    if not console.is_terminal:  # rich assumes 80 columns off a terminal: the tables need more
        console = Console(width=150)
    for table in report_tables(report):
        console.print(table)
    return 0 if response.success else 1
