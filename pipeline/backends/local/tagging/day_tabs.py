"""A row of day tabs (Mon..Sun) over a listing, and the day the page shows.

A listing app puts Mon..Sun tabs over its cards and marks one selected; the cards
under them carry no day of their own. The tabs are no show: they leave the page's
lines. In text, the selected tab is the one tab written unlike the others ('THURSDAY'
among 'Mon', 'Tue'), or the one tab on a fill unlike the others' (its box's
``background``, read from the image), or the line right under the tabs names that one
day ('Thursday karaoke · 7 shows'), which then leaves the lines too. Without the
image's colours a tab marked by colour alone is not read: the cards under it then give
no show rather than seven.

A week view's column headers name the days too, but spread one per column; tabs sit
side by side, at most a few text heights apart (on a phone, wrapped onto two rows).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.shades import colour_distance
from pipeline.clean import normalize_time_range
from pipeline.dates import find_day_phrases, weekday_of
from pipeline.schema import Weekday

__all__ = ["DayTabs", "find_day_tabs"]

_DAY_WORD = re.compile(
    r"(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?\.?", re.IGNORECASE
)
_TAB_EXTRAS = {"all", "today", "tonight", "week", "any", "day"}  # tabs a day bar often has beside the days
_MIN_DAYS = 5
_MAX_GAP = 3.0  # neighbouring tabs sit at most this many text heights apart
_HEADING_REACH = 6.0  # the selected day's heading is at most this many tab heights under the tabs
_FILL_APART = 48  # a selected tab's fill differs from every other tab's by more than this (0-255)
_SAME_FILL = 24  # ... while the other tabs share one background within this


@dataclass(frozen=True)
class DayTabs:
    """The tab boxes (and the heading naming the selected tab), the selected day and where the tabs end."""

    lines: frozenset[OcrLine]
    day: Weekday | None
    bottom: float


@dataclass(frozen=True)
class _Word:
    text: str
    x0: float
    x1: float
    box: OcrLine


def _words(box: OcrLine) -> list[_Word]:
    """A box's words with x spans shared out by their length (OCR may read tabs as one box)."""
    parts = box.text.split()
    total = max(sum(len(p) for p in parts), 1)
    words, x = [], box.x0
    for part in parts:
        width = (box.x1 - box.x0) * len(part) / total
        words.append(_Word(part, x, x + width, box))
        x += width
    return words


def _rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines grouped by vertical overlap, top to bottom, each row left to right."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.y0 + item.y1) / 2):
        centre = (line.y0 + line.y1) / 2
        if rows and abs(centre - sum((b.y0 + b.y1) / 2 for b in rows[-1]) / len(rows[-1])) < line.height / 2:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda item: item.x0) for row in rows]


def _form(word: str) -> tuple[bool, str]:
    """How a tab is written: in full or short, and its case."""
    letters = word.rstrip(".")
    case = "upper" if letters.isupper() else "lower" if letters.islower() else "title"
    return len(letters) > 4, case


def _row_tabs(row: Sequence[OcrLine]) -> tuple[list[_Word], list[Weekday]] | None:
    """The row's day words and their days when the row is only day tabs set side by side."""
    days: list[Weekday] = []
    tabs: list[_Word] = []
    for word in (word for box in row for word in _words(box)):
        if _DAY_WORD.fullmatch(word.text):
            days.append(weekday_of(word.text))
            tabs.append(word)
        elif word.text.lower().strip(".:") not in _TAB_EXTRAS:
            return None
    height = max(box.height for box in row)
    if not tabs or any(b.x0 - a.x1 > _MAX_GAP * height for a, b in itertools.pairwise(tabs)):
        return None  # a week view's column headers, one per column
    return tabs, days


def _tab_bars(rows: Sequence[Sequence[OcrLine]]) -> list[list[Sequence[OcrLine]]]:
    """Runs of consecutive rows of day tabs (a phone wraps seven tabs onto two rows)."""
    runs: list[list[Sequence[OcrLine]]] = []
    aboves: list[Sequence[OcrLine] | None] = [None, *rows]
    for row, above in zip(rows, aboves, strict=False):
        if _row_tabs(row) is None:
            continue
        height = max(box.height for box in row)
        close = above is not None and min(b.y0 for b in row) - max(b.y1 for b in above) <= 2 * height
        if runs and close and runs[-1][-1] is above:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _tab_bar(run: Sequence[Sequence[OcrLine]]) -> tuple[list[_Word], list[Weekday]] | None:
    """The run's day words and their days when they name at least five weekdays, each once."""
    tabs: list[_Word] = []
    days: list[Weekday] = []
    for row in run:
        found = _row_tabs(row)
        if found is not None:
            tabs += found[0]
            days += found[1]
    if len(set(days)) < _MIN_DAYS or len(set(days)) != len(days):
        return None
    return tabs, days


def _written_apart(tabs: Sequence[_Word], days: Sequence[Weekday]) -> Weekday | None:
    """The one tab written unlike all the others ('THURSDAY' among 'Mon', 'Tue')."""
    forms = [_form(word.text) for word in tabs]
    odd = [index for index, form in enumerate(forms) if forms.count(form) == 1]
    if len(odd) == 1 and len(set(forms)) == 2:
        return days[odd[0]]
    return None


def _filled_apart(tabs: Sequence[_Word], days: Sequence[Weekday]) -> Weekday | None:
    """The one tab set on a colour unlike the others' (a filled pill), when each tab is a box of its own."""
    shades = [word.box.background for word in tabs]
    if len({word.box for word in tabs}) != len(tabs) or any(shade is None for shade in shades):
        return None
    known = [shade for shade in shades if shade is not None]
    for index, shade in enumerate(known):
        others = known[:index] + known[index + 1 :]
        if all(colour_distance(shade, other) > _FILL_APART for other in others) and all(
            colour_distance(first, second) <= _SAME_FILL for first in others for second in others
        ):
            return days[index]
    return None


def _heading_day(lines: Sequence[OcrLine], bottom: float, height: float) -> tuple[OcrLine, Weekday] | None:
    """The first line under the tabs when it names one day and no time ('Showing Thursday')."""
    below = [line for line in lines if line.y0 >= bottom - height / 2]
    if not below:
        return None
    first = min(below, key=lambda line: line.y0)
    if first.y0 - bottom > _HEADING_REACH * height or normalize_time_range(first.text) is not None:
        return None
    phrases = find_day_phrases(first.text)
    named = {day for phrase in phrases for day in phrase.days}
    if len(phrases) == 1 and len(named) == 1 and not phrases[0].monthly:
        return first, named.pop()
    return None


def find_day_tabs(lines: Sequence[OcrLine]) -> DayTabs | None:
    """The page's day tabs and the day they select, or None when the page has no tab bar."""
    for run in _tab_bars(_rows(lines)):
        bar = _tab_bar(run)
        if bar is None:
            continue
        tabs, days = bar
        boxes = [box for row in run for box in row]
        bottom, height = max(box.y1 for box in boxes), max(box.height for box in boxes)
        used = set(boxes)
        day = _written_apart(tabs, days) or _filled_apart(tabs, days)
        if day is None:
            heading = _heading_day([line for line in lines if line not in used], bottom, height)
            if heading is not None:
                used.add(heading[0])
                day = heading[1]
        return DayTabs(frozenset(used), day, bottom)
    return None
