"""What the command line shows while it works and after: progress, the shows found.

A rich progress bar for ``parse`` (with the wait for quota), a live or periodic line for
``batch``, and the merged shows as a table. Printing only: nothing here runs a job.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.schema import BatchProgress, ParseResponse

if TYPE_CHECKING:
    from pipeline.batch import BatchCounts


class BatchProgressLog:
    """Batch progress: a live line on a terminal, a plain log line every few seconds elsewhere."""

    def __init__(self, console: Console, visible: bool, every_s: float = 5.0) -> None:
        self.console = console
        self.visible = visible
        self.every_s = every_s
        self._last = 0.0
        self.last: BatchCounts | None = None

    def __call__(self, counts: BatchCounts) -> None:
        self.last = counts
        if not self.visible:
            return
        if self.console.is_terminal:
            self.console.print(counts.line(), end="\r")
        elif time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self.console.print(f"batch: {counts.line()}", soft_wrap=True)


class ProgressBar:
    """A rich bar on stderr fed by BatchProgress snapshots (no-op when hidden)."""

    def __init__(self, console: Console, total: int, visible: bool) -> None:
        self.progress = Progress(
            TextColumn("[bold]parsing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}  left {task.fields[left]}  eta {task.fields[eta]}"),
            TextColumn("{task.fields[quota]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not visible,
            transient=False,
        )
        self.task = self.progress.add_task("parse", total=total, failed=0, left=total, eta="?", quota="")

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, snapshot: BatchProgress) -> None:
        eta = f"{snapshot.estimated_time_remaining / 1000:.1f}s" if snapshot.processed_images else "?"
        quota = ""
        if snapshot.waiting_for_quota and snapshot.next_slot_at is not None:
            seconds = max(0.0, (snapshot.next_slot_at - dt.datetime.now(dt.UTC)).total_seconds())
            quota = f"[yellow]waiting for quota: next slot in {seconds:.0f}s"
        self.progress.update(
            self.task,
            completed=snapshot.processed_images,
            failed=snapshot.failed_images,
            left=snapshot.remaining_images,
            eta=eta,
            quota=quota,
        )


def shows_table(response: ParseResponse) -> Table:
    """The merged shows as a table, one row per show."""
    table = Table(title=f"{len(response.data.shows)} shows", title_justify="left")
    for column in ("venue", "day / date", "start", "end", "time as seen", "DJ", "images"):
        table.add_column(column)
    for show in response.data.shows:
        when = show.date.isoformat() if show.date else (show.day or "?")
        table.add_row(
            show.venue_name,
            when,
            show.start_time or "",
            show.end_time or "",
            show.time or "",
            show.dj_name or "",
            str(len(show.sources)),
        )
    return table
