"""The ``eval`` report: scores per image, over the corpus and per layout family, and its tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from pipeline.schema import WireModel
from pipeline.scores import Counts, FamilyScore, ImageScore

if TYPE_CHECKING:
    from rich.table import Table


class EvalReport(WireModel):
    """Scores per image and over the corpus, plus the merge-level checks."""

    images: list[ImageScore]
    overall: Counts
    merged: Counts | None = Field(
        default=None, description="the pipeline's merged output vs the truth's union"
    )
    families: list[FamilyScore] = Field(default_factory=list, description="the counts per layout family")
    false_merges: int = 0
    trap_false_positives: int = 0
    unlabelled: list[str] = Field(default_factory=list, description="images with no truth entry (not scored)")


def _pct(value: float) -> str:
    return f"{value:.3f}"


def _counts_cells(counts: Counts) -> list[str]:
    return [
        str(counts.true_shows), str(counts.predicted_shows), str(counts.matched), _pct(counts.precision),
        _pct(counts.recall), _pct(counts.f1), _pct(counts.end_time_accuracy), _pct(counts.dj_accuracy),
        f"{_pct(counts.address_accuracy)} ({counts.address_checked})",
    ]  # fmt: skip


def report_tables(report: EvalReport) -> list[Table]:
    """The report as rich tables: one row per image, the totals, then the merge checks."""
    from rich.table import Table

    scores = Table(title="extraction quality per image", title_justify="left")
    for column in ("image", "true", "found", "matched", "precision", "recall", "F1", "end", "DJ", "address"):
        scores.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        label = f"{image.name} [red]{image.error}[/red]" if image.error else image.name
        scores.add_row(label + (" (trap)" if image.trap else ""), *_counts_cells(image.counts))
    scores.add_section()
    scores.add_row("[bold]all images[/bold]", *_counts_cells(report.overall))
    if report.merged is not None:
        scores.add_row("[bold]merged output[/bold]", *_counts_cells(report.merged))
    checks = Table(title="must be zero", title_justify="left")
    checks.add_column("check")
    checks.add_column("count", justify="right")
    checks.add_row("shows read from trap images", str(report.trap_false_positives))
    checks.add_row("false merges", str(report.false_merges))
    checks.add_row("images without truth (not scored)", str(len(report.unlabelled)))
    return [scores, family_table(report), checks]


def _rate(value: float, whole: int) -> str:
    """A rate, or '-' when there was nothing to check (a 0/0 is not a perfect score here)."""
    return _pct(value) if whole else "-"


def _family_cells(counts: Counts, trap_shows: int) -> list[str]:
    return [
        str(counts.true_shows), str(counts.predicted_shows), str(counts.matched),
        _rate(counts.f1, counts.true_shows + counts.predicted_shows),
        f"{_rate(counts.venue_accuracy, counts.venue_checked)} ({counts.venue_checked})",
        _rate(counts.end_time_accuracy, counts.matched), _rate(counts.dj_accuracy, counts.matched),
        str(trap_shows),
    ]  # fmt: skip


def family_table(report: EvalReport) -> Table:
    """Per layout family: show F1, venue right when the time was read, end time, DJ, trap shows."""
    from rich.table import Table

    table = Table(title="by layout family", title_justify="left")
    for column in ("family", "images", "true", "found", "matched", "F1", "venue", "end", "DJ", "trap shows"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in report.families:
        table.add_row(family.family, str(family.images), *_family_cells(family.counts, family.trap_shows))
    table.add_section()
    table.add_row(
        "[bold]all images[/bold]", str(len(report.images)),
        *_family_cells(report.overall, report.trap_false_positives),
    )  # fmt: skip
    return table
