"""The table reader: a page that is one table (Day | Venue | Time | DJ ...) or a weekly grid.

It takes the whole page when ``layout.tables.find_table_header`` finds a header row
that names a venue column: each row under it is cut into that header's cells, a day
row ('TUESDAY' over the rows of that day) gives its day to the rows under it, and a
weekly grid (Venue | Mon | Tue ...) gives one show per weekday cell holding a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast

from pipeline.addresses import find_address
from pipeline.backends.local.layout.rows import Row
from pipeline.backends.local.layout.tables import Column, table_cells, wrapped_cells_joined
from pipeline.backends.local.readers.drafts import Draft, Reading
from pipeline.backends.local.readers.page import is_heading
from pipeline.backends.local.tagging.fields import LineFields, strip_dj_prefix
from pipeline.backends.local.tagging.words import GRID_DAY, is_other_event, mentions_karaoke
from pipeline.clean import normalize_time_range
from pipeline.schema import Weekday

__all__ = ["table_drafts"]


def _table_row_fields(cells: dict[str, str], row: Row, ref: Reading) -> LineFields:
    """Fields of one table row; day and time fall back to the whole row's text."""
    whole = ref.fields(row.text)
    day_cell = ref.fields(cells.get("day", ""))
    time_cell = normalize_time_range(cells.get("time", ""))
    dj_text = cells.get("dj", "").strip()
    address_text = ", ".join(filter(None, (cells.get("address"), cells.get("city"))))
    return LineFields(
        days=day_cell.days or whole.days,
        date=day_cell.date or whole.date,
        time=time_cell or whole.time,
        dj=strip_dj_prefix(dj_text) if dj_text else whole.dj,
        dj_as_seen=dj_text or whole.dj_as_seen,
        address=find_address(address_text) if address_text else whole.address,
        venue=_table_venue(cells, ref),
    )


def _table_venue(cells: dict[str, str], ref: Reading) -> str | None:
    """The venue cell, plus words a misplaced cell boundary gave to the day or time column."""
    parts = [ref.fields(cells.get(kind, "")).venue for kind in ("day", "venue", "time")]
    return " ".join(part for part in parts if part) or None


def _grid_drafts(body: Sequence[Row], columns: list[Column], ref: Reading) -> list[Draft]:
    """A weekly grid: each row's venue, one show per weekday column holding a time."""
    drafts: list[Draft] = []
    for row in body:
        cells = table_cells(row, columns, body)
        venue = ref.fields(cells.get("venue", "")).venue
        if venue is None or is_other_event(row.text):
            continue
        for kind, text in cells.items():
            time = normalize_time_range(text) if kind.startswith(GRID_DAY) else None
            if time is not None:
                day = cast(Weekday, kind.removeprefix(GRID_DAY))
                fields = LineFields(days=(day,), time=time, venue=venue)
                drafts.append(Draft(fields, row.score, karaoke_line=True))
    return drafts


def table_drafts(rows: Sequence[Row], start: int, columns: list[Column], ref: Reading) -> list[Draft]:
    """Shows of a page that is one table: the rows under its header row, cell by cell."""
    body = [row for row in rows[start + 1 :] if not is_heading(row)]
    if any(column.kind.startswith(GRID_DAY) for column in columns):
        return _grid_drafts(body, columns, ref)
    body = wrapped_cells_joined(body)
    drafts: list[Draft] = []
    section = LineFields()  # a day row over the rows of that day ('TUESDAY' in a Venue | Time table)
    for row in body:
        fields = _table_row_fields(table_cells(row, columns, body), row, ref)
        if is_other_event(row.text):
            continue
        if fields.has_days and fields.time is None and len(row.boxes) == 1:
            section = fields
            continue
        if not fields.has_days:
            fields = replace(fields, days=section.days, date=section.date)
        if fields.has_days and fields.venue:
            drafts.append(Draft(fields, row.score, karaoke_line=mentions_karaoke(row.text)))
    return drafts
