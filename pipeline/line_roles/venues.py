"""The venue stage: the model checks the lines each show's venue was read from.

The rules name a show's venue from the lines around its day and time; on a
site they were not written for they take the line over the street (a
neighbourhood), a paragraph, the host under the title, or they join the title
with the line under it. This stage asks the line-role model about the lines
the name came from:

- a name joined from several lines keeps only the lines the model calls a
  venue ('Mulligan's Irish Pub' + 'East Village' -> 'Mulligan's Irish Pub');
- a name from a line the model is sure is not a venue (under ``KEEP``) is
  replaced by the nearest line above it in its column that the model calls a
  venue (at least ``TAKE``), within ``REACH`` line heights, unless that names
  another show already; never a table's cell (a time beside it on its row)
  nor a name the rules cut out of a longer line.

Everything else the rules read (days, times, dates, hosts, addresses) stays.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from pipeline.clean import normalize_time_range
from pipeline.dates import find_day_phrases
from pipeline.line_roles.features import Box
from pipeline.line_roles.model import RoleModel, load_model
from pipeline.schema import ParsedSchedule, Show, Venue

__all__ = ["KEEP", "REACH", "TAKE", "choose_venues", "committed_model"]

KEEP = 0.2
"""A venue line the model gives at least this probability of being a venue is kept."""
TAKE = 0.3
"""A line replaces it only when the model gives it at least this, and more than any other role."""
REACH = 12.0
"""How far above the rejected line (in median line heights) a replacement may sit."""
_UNDER_A_TITLE = ("area", "tag", "host", "address")  # what sits under a card's title, in its own line
_MOST_PARTS = 4  # lines one venue name may be joined from
_SMALLER = 0.9  # a joined line this much smaller than the venue lines is in other type
_TAIL_GAP = 0.25  # a line this close (in its own heights) under another continues it
_FOLD = re.compile(r"[^a-z0-9]+")


@functools.cache
def committed_model() -> RoleModel:
    """The committed model (``pipeline/line_roles/model.json``), read once per process."""
    return load_model()


def _key(text: str) -> str:
    return _FOLD.sub(" ", text.casefold()).strip()


def _column(a: Box, b: Box) -> bool:
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    return overlap > 0.3 * max(min(a.x1 - a.x0, b.x1 - b.x0), 1.0)


def _holding(name: str, lines: Sequence[Box]) -> list[int]:
    """Lines that hold the whole venue name."""
    key = _key(name)
    return [i for i, line in enumerate(lines) if key and key in _key(line.text)]


def _parts(name: str, lines: Sequence[Box]) -> list[int]:
    """Lines stacked in one column, each right under the last, whose texts joined are the name."""
    key = _key(name)
    for first, line in enumerate(lines):
        chain, joined = [first], _key(line.text)
        while joined and key.startswith(joined) and len(chain) < _MOST_PARTS:
            if joined == key:
                return chain if len(chain) >= 2 else []
            last = lines[chain[-1]]
            gap = 1.5 * max(last.y1 - last.y0, 1.0)
            under = [
                j
                for j, other in enumerate(lines)
                if j not in chain and _column(last, other) and 0 <= other.y0 - last.y1 + 0.3 * gap <= gap
            ]
            if not under:
                break
            nearest = min(under, key=lambda j: lines[j].y0)
            chain.append(nearest)
            joined = f"{joined} {_key(lines[nearest].text)}"
    return []


def _source_of(show: Show, sources: list[int], lines: Sequence[Box]) -> int:
    """Of the lines holding the show's venue name, the one nearest a line with the show's start."""
    times = [
        j
        for j, line in enumerate(lines)
        if (found := normalize_time_range(line.text)) is not None and found.start == show.start_time
    ]

    def distance(i: int) -> float:
        near = [abs(lines[j].y0 - lines[i].y0) for j in times if _column(lines[i], lines[j])]
        return min(near, default=float("inf"))

    return min(sources, key=distance)


def _replacement(
    source: int, lines: Sequence[Box], roles: np.ndarray, venue: int, height: float
) -> int | None:
    """The nearest line above the rejected one, in its column, that the model calls a venue."""
    line = lines[source]
    candidates = [
        j
        for j, other in enumerate(lines)
        if j != source
        and roles[j].argmax() == venue
        and roles[j, venue] >= TAKE
        and not (normalize_time_range(other.text) or find_day_phrases(other.text))
        and _column(line, other)
        and other.y1 <= line.y0 + 0.3 * height
        and line.y0 - other.y0 <= REACH * height
        and not _a_wrapped_tail(other, lines)
    ]
    return max(candidates, key=lambda j: lines[j].y0, default=None)


def _a_wrapped_tail(line: Box, lines: Sequence[Box]) -> bool:
    """The line nearly touches a line above it in its column: the rest of that line, not a title
    (a title stands apart from what is above it)."""
    reach = _TAIL_GAP * max(line.y1 - line.y0, 1.0)
    return any(
        other is not line and _column(line, other) and -reach <= line.y0 - other.y1 < reach for other in lines
    )


def _in_a_table_row(index: int, lines: Sequence[Box]) -> bool:
    """A cell beside a time on its row: a table's venue cell, which the rules read by its column."""
    line = lines[index]
    return any(
        j != index
        and min(line.y1, other.y1) - max(line.y0, other.y0)
        > 0.5 * min(line.y1 - line.y0, other.y1 - other.y0)
        and normalize_time_range(other.text) is not None
        for j, other in enumerate(lines)
    )


def _renamed(
    show: Show,
    lines: Sequence[Box],
    roles: np.ndarray,
    model_roles: tuple[str, ...],
    height: float,
    taken: set[str],
) -> str | None:
    """The show's better venue name, or None to keep what the rules read."""
    venue = model_roles.index("venue")
    parts = _parts(show.venue_name, lines) if not _holding(show.venue_name, lines) else []
    if parts:
        fields = {model_roles.index(role) for role in _UNDER_A_TITLE}
        kept = [i for i in parts if roles[i].argmax() == venue]
        size = max((lines[i].y1 - lines[i].y0 for i in kept), default=0.0)
        dropped = [i for i in parts if i not in kept]
        # only a line the model names as another field, in smaller type, goes (a neighbourhood
        # under the title), never a wrapped name's second half
        if (
            kept
            and dropped
            and not any(_in_a_table_row(i, lines) for i in parts)  # a wrapped cell: the rules' column
            and all(roles[i].argmax() in fields for i in dropped)
            and all(lines[i].y1 - lines[i].y0 < _SMALLER * size for i in dropped)
        ):
            return " ".join(
                lines[i].text.strip() for i in sorted(kept, key=lambda i: (lines[i].y0, lines[i].x0))
            )
        return None
    sources = _holding(show.venue_name, lines)
    if not sources:
        return None
    source = _source_of(show, sources, lines)
    if roles[source, venue] >= KEEP or roles[source].argmax() == venue or _in_a_table_row(source, lines):
        return None
    if len(_key(lines[source].text)) > len(_key(show.venue_name)) + 3:
        return None  # the rules cut the name out of a longer line: the line's role says nothing of it
    better = _replacement(source, lines, roles, venue, height)
    if better is None or any(_key(lines[better].text) in name for name in taken):
        return None  # another show's venue or part of one: the line above belongs to the card above
    return lines[better].text.strip(" |,.-:")


def choose_venues(lines: Sequence[Box], schedule: ParsedSchedule, model: RoleModel) -> ParsedSchedule:
    """``schedule`` with each show whose venue lines the model rejects renamed after better ones."""
    if not schedule.shows or not lines:
        return schedule
    roles = model.probabilities(lines)
    height = float(np.median([max(line.y1 - line.y0, 1.0) for line in lines]))
    shows: list[Show] = []
    renamed: dict[str, str] = {}
    taken = {_key(show.venue_name) for show in schedule.shows}
    for show in schedule.shows:
        name = _renamed(show, lines, roles, model.roles, height, taken)
        if name is None or name == show.venue_name:
            shows.append(show)
            continue
        renamed[name] = show.venue_name
        shows.append(show.model_copy(update={"venue_name": name}))
    if not renamed:
        return schedule
    return schedule.model_copy(update={"shows": shows, "venues": _venues(schedule.venues, shows, renamed)})


def _venues(venues: Sequence[Venue], shows: Sequence[Show], renamed: dict[str, str]) -> list[Venue]:
    """The venues still named by a show, plus each new name (with the address of the name it replaced)."""
    named = {show.venue_name for show in shows}
    by_name = {venue.name: venue for venue in venues}
    kept = [venue for venue in venues if venue.name in named]
    for new, old in renamed.items():
        if new in by_name:
            continue
        former = by_name.get(old)
        kept.append(former.model_copy(update={"name": new}) if former else Venue(name=new))
    return kept
