"""``eval --leave-one-family-out``: how the parser does on a layout family its model never saw.

For each layout family of the scored images, the line-role model is fitted on
the committed training table without that family's lines, and the family's
images are parsed twice from the same OCR lines: by the rules alone and with
the model's venue stage. The figure a change must improve is the show F1 of
the model averaged over families (traps have no shows, so no F1: they count
shows read from them instead), not the dev-seed F1 the rules were tuned on.

PATH is a folder of images with a truth file (OCR runs here, in process, once
per image), or the training table itself (``data/line_roles/lines.csv.gz``,
OCR lines already in it, its ``truth.json.gz`` beside it: seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from pipeline.evaluate import score_image
from pipeline.line_roles.table import Image, read_table
from pipeline.schema import ParsedSchedule, WireModel
from pipeline.scores import Counts, read_families, read_truth

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.line_roles.features import Box
    from pipeline.line_roles.model import RoleModel

__all__ = [
    "FamilyLofo",
    "LofoReport",
    "Scored",
    "add_lofo_option",
    "leave_one_family_out",
    "read_schedule",
    "run_lofo",
]

_TABLE_TODAY = dt.date(2026, 12, 5)  # the table keeps no capture time: one fixed reference day


@dataclass(frozen=True)
class Scored:
    """One labelled image to score: its OCR lines, truth, family and reference day."""

    name: str
    family: str
    lines: Sequence[Box]
    truth: ParsedSchedule
    today: dt.date


Grouping = Callable[[str, str], str]
"""(image name, family) -> the group left out: the family itself, or the image's visual theme."""


class FamilyLofo(WireModel):
    """One family's (or theme's) images, scored by the rules and by the model fitted without them."""

    family: str = Field(description="the family left out, or the theme with ``by: theme``")
    images: int
    training_lines: int = Field(description="lines the family's model was fitted on")
    rules: Counts
    model: Counts


class LofoReport(WireModel):
    by: Literal["family", "theme"] = "family"
    families: list[FamilyLofo]
    rules_f1: float = Field(description="show F1 of the rules, averaged over families with shows")
    model_f1: float = Field(description="the same with the model's venue stage")
    rules_venue: float = Field(description="venue accuracy of the rules, averaged over families")
    model_venue: float
    trap_shows_rules: int = 0
    trap_shows_model: int = 0
    parse_ms_rules: float = Field(description="parse time per image, rules only (ms)")
    parse_ms_model: float = Field(description="parse time per image with the model's stage (ms)")


def read_schedule(lines: Sequence[Box], today: dt.date, model: RoleModel | None) -> ParsedSchedule:
    """What the local backend makes of ``lines`` (``read_lines``): the parser, the venue stage with
    ``model``, cleaning."""
    from pipeline.backends.local.engine import read_lines
    from pipeline.backends.local.lines import OcrLine

    ocr = [line if isinstance(line, OcrLine) else OcrLine(line.text, line.x0, line.y0, line.x1, line.y1)
           for line in lines]  # fmt: skip
    return read_lines(ocr, today, model)


def _average(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _venue_accuracy(counts: Counts) -> float:
    return counts.venue_right / counts.venue_checked if counts.venue_checked else 0.0


def _by_family(name: str, family: str) -> str:
    return family


def leave_one_family_out(
    scored: Sequence[Scored],
    table: Sequence[Image],
    *,
    log: Callable[[str], None] = lambda _: None,
    group: Grouping = _by_family,
) -> LofoReport:
    """Per family of ``scored`` (or per ``group``, a theme): fit without it on ``table``, parse its
    images with rules and model."""
    from pipeline.line_roles.model import fit

    families: list[FamilyLofo] = []
    timing = {"rules": 0.0, "model": 0.0}
    groups = {item.name: group(item.name, item.family) for item in scored}
    for family in sorted(set(groups.values())):
        training = [image for image in table if group(image.name, image.family) != family]
        model = fit(training)
        counts = {"rules": Counts(), "model": Counts()}
        mine = [item for item in scored if groups[item.name] == family]
        for item in mine:
            for kind, used in (("rules", None), ("model", model)):
                started = time.perf_counter()
                predicted = read_schedule(item.lines, item.today, used)
                timing[kind] += time.perf_counter() - started
                counts[kind] = counts[kind].plus(
                    score_image(item.name, item.truth, predicted, family=item.family).counts
                )
        lines = sum(len(image.lines) for image in training)
        families.append(FamilyLofo(family=family, images=len(mine), training_lines=lines, **counts))
        log(f"{family}: rules F1 {counts['rules'].f1:.3f}, model F1 {counts['model'].f1:.3f}")
    shown = [f for f in families if f.rules.true_shows]
    traps = [f for f in families if not f.rules.true_shows]
    per_image = max(len(scored), 1) / 1000
    return LofoReport(
        by="family" if group is _by_family else "theme",
        families=families,
        rules_f1=_average([f.rules.f1 for f in shown]),
        model_f1=_average([f.model.f1 for f in shown]),
        rules_venue=_average([_venue_accuracy(f.rules) for f in shown]),
        model_venue=_average([_venue_accuracy(f.model) for f in shown]),
        trap_shows_rules=sum(f.rules.predicted_shows for f in traps),
        trap_shows_model=sum(f.model.predicted_shows for f in traps),
        parse_ms_rules=round(timing["rules"] / per_image, 1),
        parse_ms_model=round(timing["model"] / per_image, 1),
    )


def scored_from_table(lines_file: Path) -> list[Scored]:
    """The training table's own images (OCR lines in it) with the truth written beside it."""
    truth_file = lines_file.with_name("truth.json.gz")
    with gzip.open(truth_file, "rt", encoding="utf-8") as handle:
        truths = json.load(handle)
    return [
        Scored(image.name, image.family, image.lines, ParsedSchedule.model_validate(truths[image.name]),
               _TABLE_TODAY)
        for image in read_table(lines_file)
        if image.name in truths
    ]  # fmt: skip


def scored_from_folder(folder: Path, truth_file: Path, *, log: Callable[[str], None]) -> list[Scored]:
    """OCR every labelled image of ``folder`` here, in process (the reference day as ``parse`` takes it)."""
    from PIL import Image as PilImage

    from pipeline.backends.base import LocalOptions
    from pipeline.backends.local.engine import LocalBackend
    from pipeline.capture import capture_date

    truth, families = read_truth(truth_file), read_families(truth_file)
    backend = LocalBackend(LocalOptions())
    scored: list[Scored] = []
    for name in sorted(truth):
        path = folder / name
        if not path.is_file():
            continue
        with PilImage.open(path) as image:
            image.load()
            today = capture_date(image) or dt.date.today()
            lines = backend.read_text(image)
        scored.append(Scored(name, families.get(name, "unknown"), lines, truth[name], today))
        log(f"OCR {name}: {len(lines)} lines")
    return scored


# --- the command-line option ---------------------------------------------------------


def add_lofo_option(command: argparse.ArgumentParser) -> None:
    """Add ``--leave-one-family-out`` and ``--leave-one-theme-out`` to ``eval``."""
    command.add_argument(
        "--leave-one-family-out",
        action="store_true",
        help="per family: fit the line-role model without it, score rules and model on its images "
        "(PATH: labelled images, or the training table data/line_roles/lines.csv.gz)",
    )
    command.add_argument(
        "--leave-one-theme-out",
        action="store_true",
        help="the same per visual theme (dark, light or drawn pages; PATH: the training table)",
    )


def run_lofo(args: argparse.Namespace) -> int:
    """Run ``eval --leave-one-family-out``: 0 when scored, 2 for usage errors."""
    from rich.console import Console

    from pipeline.line_roles.table import LINES_FILE

    err = Console(stderr=True)
    path: Path = args.path
    by_theme = bool(getattr(args, "leave_one_theme_out", False))
    if by_theme and not path.name.endswith(".csv.gz"):
        err.print("[red]error:[/red] themes are known for the training table only (lines.csv.gz)")
        return 2
    if path.name.endswith(".csv.gz"):
        scored = scored_from_table(path)
    else:
        truth_file = args.truth or (path / "truth.json")
        if not truth_file.is_file():
            err.print(f"[red]error:[/red] no truth file at {truth_file}; pass --truth FILE")
            return 2
        scored = scored_from_folder(path, truth_file, log=err.print)
    table = read_table(LINES_FILE)
    if by_theme:
        from pipeline.line_roles.dataset import theme_of

        report = leave_one_family_out(scored, table, log=err.print, group=functools.cache(theme_of))
    else:
        report = leave_one_family_out(scored, table, log=err.print)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report.to_wire_json(indent=2) + "\n", encoding="utf-8")
    Console(width=150).print(lofo_table(report))
    return 0


def lofo_table(report: LofoReport) -> Table:
    from rich.table import Table

    table = Table(title=f"Leave one {report.by} out: rules vs the line-role model fitted without it")
    for column in (report.by, "images", "true shows", "F1 rules", "F1 model", "venue rules", "venue model"):
        table.add_column(column)
    for family in report.families:
        table.add_row(
            family.family, str(family.images), str(family.rules.true_shows),
            f"{family.rules.f1:.3f}", f"{family.model.f1:.3f}",
            f"{_venue_accuracy(family.rules):.3f}", f"{_venue_accuracy(family.model):.3f}",
        )  # fmt: skip
    table.add_row(
        "average", "", "", f"{report.rules_f1:.3f}", f"{report.model_f1:.3f}",
        f"{report.rules_venue:.3f}", f"{report.model_venue:.3f}",
    )  # fmt: skip
    table.caption = (
        f"shows from traps: rules {report.trap_shows_rules}, model {report.trap_shows_model}; "
        f"parse per image: rules {report.parse_ms_rules} ms, model {report.parse_ms_model} ms"
    )
    return table
