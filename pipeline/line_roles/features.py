"""Features of one OCR line that carry across sites: relative size, place in its block, what it says.

No word of any template is a feature. A line is described against its
neighbours (the lines above and below it in its column, and its block: the
column neighbours no more than a few line heights away), against the page
(median text height, width), and by what the project's own tagger finds in it
(a time, a day, a date, a street, a phone, a host credit), its case, length
and share of digits. A card's title is its block's largest text; a
neighbourhood line sits between the title and the street in small type.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pipeline.addresses import find_address, find_phone
from pipeline.clean import normalize_time_range
from pipeline.dates import find_date, find_day_phrases

__all__ = ["FEATURES", "Box", "line_features"]

_EPOCH = dt.date(2000, 1, 1)
_HOST = re.compile(r"\b(?:with|w/|hosted\s+by|presented\s+by|dj|kj|mc|host(?:ed)?)\b", re.IGNORECASE)
_KARAOKE = re.compile(r"\bkaraok", re.IGNORECASE)
_PLACE_WORD = re.compile(
    r"\b(?:bar|pub|tavern|lounge|grill|saloon|inn|house|cantina|club|brewery|taphouse|tap|room|lanes|"
    r"lodge|social|cafe|restaurant|kitchen|hall|station|den|joint|bistro)\b",
    re.IGNORECASE,
)  # what venues are called in English anywhere, not names from the corpus
_BLOCK_REACH = 2.5  # gap / line height within which column neighbours are one block
_COLUMN_SHARE = 0.3  # horizontal overlap / narrower width for two lines to share a column


class Box(Protocol):
    """An OCR line: text and axis-aligned bounds in pixels (``OcrLine`` has this shape)."""

    @property
    def text(self) -> str: ...
    @property
    def x0(self) -> float: ...
    @property
    def y0(self) -> float: ...
    @property
    def x1(self) -> float: ...
    @property
    def y1(self) -> float: ...


@dataclass(frozen=True)
class _Tags:
    time: bool
    day: bool
    date: bool
    street: bool
    phone: bool
    host: bool
    karaoke: bool
    place_word: bool

    @classmethod
    def of(cls, text: str) -> _Tags:
        return cls(
            time=normalize_time_range(text) is not None,
            day=bool(find_day_phrases(text)),
            date=find_date(text, _EPOCH) is not None,
            street=find_address(text) is not None,
            phone=find_phone(text) is not None,
            host=_HOST.search(text) is not None,
            karaoke=_KARAOKE.search(text) is not None,
            place_word=_PLACE_WORD.search(text) is not None,
        )

    def vector(self) -> list[float]:
        return [float(v) for v in (self.time, self.day, self.date, self.street, self.phone, self.host,
                                   self.karaoke, self.place_word)]  # fmt: skip


_TAG_NAMES = ("time", "day", "date", "street", "phone", "host", "karaoke", "place_word")
_OWN = (
    "log_height_page", "height_block", "largest_in_block", "log_chars", "words", "upper_share",
    "title_share", "digit_share", "punct_share", "ends_colon", "x_centre", "y_page", "width_page",
    "indent_block", "block_lines", "index_in_block", "lines_above_in_block", "first_in_block",
    "last_in_block", "log_gap_above", "log_gap_below", "height_above", "height_below", "score",
    "rank_in_block",
)  # fmt: skip
FEATURES: tuple[str, ...] = (
    *_OWN,
    *(f"own_{name}" for name in _TAG_NAMES),
    *(f"above_{name}" for name in _TAG_NAMES),
    *(f"below_{name}" for name in _TAG_NAMES),
    *(f"block_{name}" for name in _TAG_NAMES),
)
"""Names of the columns ``line_features`` returns, in order."""


def _height(box: Box) -> float:
    return max(box.y1 - box.y0, 1.0)


def _same_column(a: Box, b: Box) -> bool:
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    return overlap > _COLUMN_SHARE * max(min(a.x1 - a.x0, b.x1 - b.x0), 1.0)


def _text_shares(text: str) -> list[float]:
    letters = [ch for ch in text if ch.isalpha()]
    words = text.split()
    chars = max(len(text.replace(" ", "")), 1)
    return [
        math.log1p(len(text)),
        float(min(len(words), 12)),
        sum(ch.isupper() for ch in letters) / max(len(letters), 1),
        sum(word[:1].isupper() for word in words) / max(len(words), 1),
        sum(ch.isdigit() for ch in text) / chars,
        sum(not ch.isalnum() and not ch.isspace() for ch in text) / chars,
        float(text.rstrip().endswith(":")),
    ]


def line_features(lines: Sequence[Box]) -> np.ndarray:
    """One row of ``FEATURES`` per line, for every line of one screenshot (all lines together)."""
    if not lines:
        return np.zeros((0, len(FEATURES)))
    tags = [_Tags.of(line.text) for line in lines]
    median = statistics.median(_height(line) for line in lines)
    width = max(max(line.x1 for line in lines), 1.0)
    height = max(max(line.y1 for line in lines), 1.0)
    order = sorted(range(len(lines)), key=lambda i: (lines[i].y0, lines[i].x0))
    rows: list[list[float]] = []
    for i, line in enumerate(lines):
        own_h = _height(line)
        column = [j for j in order if j != i and _same_column(line, lines[j])]
        above = [j for j in column if lines[j].y1 <= line.y0 + 0.3 * own_h]
        below = [j for j in column if lines[j].y0 >= line.y1 - 0.3 * own_h]
        up = max(above, key=lambda j: lines[j].y1, default=None)
        down = min(below, key=lambda j: lines[j].y0, default=None)
        block = _block(i, lines, column)
        block_heights = [_height(lines[j]) for j in block]
        tallest = max(block_heights)
        ordered = sorted(block, key=lambda j: lines[j].y0)
        index = ordered.index(i)
        gap_above = (line.y0 - lines[up].y1) / own_h if up is not None else 20.0
        gap_below = (lines[down].y0 - line.y1) / own_h if down is not None else 20.0
        rank = sorted(block_heights, reverse=True).index(own_h) / max(len(block) - 1, 1)
        merged = [any(getattr(tags[j], name) for j in block if j != i) for name in _TAG_NAMES]
        rows.append(
            [
                math.log(own_h / median),
                own_h / tallest,
                float(own_h >= 0.95 * tallest),
                *_text_shares(line.text),
                (line.x0 + line.x1) / 2 / width,
                line.y0 / height,
                (line.x1 - line.x0) / width,
                (line.x0 - min(lines[j].x0 for j in block)) / own_h,
                float(min(len(block), 12)),
                index / max(len(block) - 1, 1),
                float(min(index, 6)),
                float(index == 0),
                float(index == len(block) - 1),
                math.log1p(max(min(gap_above, 20.0), 0.0)),
                math.log1p(max(min(gap_below, 20.0), 0.0)),
                _height(lines[up]) / own_h if up is not None else 0.0,
                _height(lines[down]) / own_h if down is not None else 0.0,
                float(getattr(line, "score", 1.0)),
                rank,
                *tags[i].vector(),
                *(tags[up].vector() if up is not None else [0.0] * len(_TAG_NAMES)),
                *(tags[down].vector() if down is not None else [0.0] * len(_TAG_NAMES)),
                *[float(v) for v in merged],
            ]
        )
    return np.asarray(rows, dtype=float)


def _block(i: int, lines: Sequence[Box], column: list[int]) -> list[int]:
    """Line ``i`` and the column neighbours chained to it by gaps under ``_BLOCK_REACH`` line heights."""
    members = [i]
    for direction in (-1, 1):
        current = i
        candidates = sorted(
            (j for j in column if (lines[j].y0 - lines[i].y0) * direction > 0),
            key=lambda j: (lines[j].y0 - lines[i].y0) * direction,
        )
        for j in candidates:
            a, b = (lines[j], lines[current]) if direction < 0 else (lines[current], lines[j])
            gap = b.y0 - a.y1
            if gap > _BLOCK_REACH * max(_height(a), _height(b)):
                break
            members.append(j)
            current = j
    return members
