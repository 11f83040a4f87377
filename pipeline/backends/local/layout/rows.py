"""Page geometry for the rule parser: OCR boxes into rows and blocks.

OCR returns one box per run of text. Boxes that overlap vertically form a
``Row``; a row that only continues the one above (a wrapped line, a zip code
under its street) is joined to it; a vertical gap larger than a line separates
``blocks`` (the shows of a flyer). A table is found by its header row (Day |
Venue | Time | DJ ...) and every later box is cut into that header's columns,
word by word when OCR merged neighbouring cells into one box (``tables``).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.words import names_day
from pipeline.backends.local.tagging.wraps import (
    ends_with_connector_word,
    ends_with_field,
    has_field,
    lost_dash,
    starts_a_sentence,
    wraps_by_text,
)

__all__ = ["Row", "group_rows", "split_blocks"]

_WRAP_GAP = 0.25  # gap / line height below which a row continues the one above
_WRAP_OVERLAP = 0.2  # ... and the most two left-aligned wrapped lines' boxes overlap (0.1 otherwise)
_WORD_GAP = 0.5  # gap / text height below which two boxes of a row are one phrase
_BLOCK_GAP = 1.0  # gap / median line height above which a new block starts
_ROOM_SHARE = 0.9  # a line and the next word within this share of its column's room had room
_CAPS_REACH = 1.25  # type size / box height of a line in capitals ...
_ASCENDER_REACH = 1.1  # ... and of one without descenders (1.0 with them)
_STACKED_SHARE = 0.3  # boxes sharing more than this share of the narrower one's width are stacked


@dataclass(frozen=True)
class Row:
    """Boxes on one visual line, left to right; ``text`` joins them with ' | '."""

    boxes: tuple[OcrLine, ...]
    text: str

    @classmethod
    def of(cls, boxes: Sequence[OcrLine], others: Sequence[OcrLine] = ()) -> Row:
        """Boxes left to right; a word gap joins with a space, a wider gap with ' | ' (a new cell).

        Two halves of a name around a logo ('THE RUSTY' [logo] 'ANCHOR') join with a
        space: same type size, and some of ``others`` (boxes of other rows) sit between them.
        """
        ordered = tuple(sorted(boxes, key=lambda box: box.x0))
        text = ordered[0].text.strip()
        for left, right in itertools.pairwise(ordered):
            word_gap = right.x0 - left.x1 < _WORD_GAP * min(left.height, right.height)
            joined = word_gap or _around_a_logo(left, right, others)
            text += (" " if joined else " | ") + right.text.strip()
        return cls(ordered, text)

    @classmethod
    def stacked(cls, boxes: Sequence[OcrLine]) -> Row:
        """A logo's words read top to bottom ('Karaoke by' over 'Dana'), as one row."""
        ordered = tuple(sorted(boxes, key=lambda box: box.y0))
        return cls(ordered, " ".join(box.text.strip() for box in ordered))

    @property
    def x0(self) -> float:
        return min(box.x0 for box in self.boxes)

    @property
    def x1(self) -> float:
        return max(box.x1 for box in self.boxes)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def y0(self) -> float:
        return min(box.y0 for box in self.boxes)

    @property
    def y1(self) -> float:
        return max(box.y1 for box in self.boxes)

    @property
    def height(self) -> float:
        return statistics.median(box.height for box in self.boxes)

    @property
    def type_size(self) -> float:
        """The row's type size as its box height, corrected for what the letters reach: an
        OCR box spans the glyphs drawn, so a line in capitals (cap height only) reads smaller
        than one with descenders (g, j, p, q, y) in the same type."""
        letters = [char for char in self.text if char.isalpha()]
        if letters and not any(char.islower() for char in letters):
            return self.height * _CAPS_REACH
        if any(char in "gjpqy" for char in letters):
            return self.height
        return self.height * _ASCENDER_REACH

    @property
    def score(self) -> float:
        return min(box.score for box in self.boxes)

    def joined(self, below: Row, glue: str = " ") -> Row:
        """This row with ``below`` appended as the continuation of its text."""
        return Row(self.boxes + below.boxes, f"{self.text}{glue}{below.text}")


def _logo_apart(boxes: list[OcrLine], others: Sequence[OcrLine] = ()) -> tuple[list[OcrLine], list[OcrLine]]:
    """A row's boxes, and apart from them a logo's words between two boxes of the row.

    A logo word is set off the line the two share, or is one line of a stack of words
    ('Neon' / 'Nights' / 'Karaoke' between 'SAND BAR' and 'STATION') that they are not.
    """
    ordered = sorted(boxes, key=lambda box: box.x0)
    logo: list[OcrLine] = []
    for left, middle, right in zip(ordered, ordered[1:], ordered[2:], strict=False):
        stacked = _in_a_stack(middle, others) and not (
            _has_lines_by(left, others) or _has_lines_by(right, others)
        )
        if _set_off(middle, left, right) or stacked:
            logo.append(middle)
    if len(ordered) >= 4 and not logo:  # two logo words between the halves of a name
        first, last = ordered[0], ordered[-1]
        inner = ordered[1:-1]
        if all(_set_off(box, first, last) for box in inner):
            logo = inner
    return [box for box in boxes if box not in logo], logo


def _stacked_with(box: OcrLine, other: OcrLine, most_gap: float) -> tuple[bool, bool]:
    """Whether ``other`` sits over the same span as ``box`` right above it, and right below it."""
    shared = min(box.x1, other.x1) - max(box.x0, other.x0)
    if other is box or shared <= 0.5 * min(box.x1 - box.x0, other.x1 - other.x0):
        return False, False
    gap_above, gap_below = box.y0 - other.y1, other.y0 - box.y1
    low, high = -0.5 * box.height, most_gap * box.height
    return low < gap_above < high, low < gap_below < high


def _in_a_stack(box: OcrLine, others: Sequence[OcrLine]) -> bool:
    """Words sit right above and right below ``box``, over the same span: a stacked logo."""
    found = [_stacked_with(box, other, 0.3) for other in others]
    return any(above for above, _ in found) and any(below for _, below in found)


def _has_lines_by(box: OcrLine, others: Sequence[OcrLine]) -> bool:
    """A line sits within a line height above or below ``box``: a table's cell, not a name around a logo."""
    return any(above or below for above, below in (_stacked_with(box, other, 1.0) for other in others))


def _set_off(middle: OcrLine, left: OcrLine, right: OcrLine) -> bool:
    """``middle`` sits off the line that ``left`` and ``right`` share."""

    def centre(box: OcrLine) -> float:
        return (box.y0 + box.y1) / 2

    aligned = abs(centre(left) - centre(right)) <= 0.1 * left.height
    return aligned and abs(centre(middle) - (centre(left) + centre(right)) / 2) > 0.25 * left.height


def _around_a_logo(left: OcrLine, right: OcrLine, others: Sequence[OcrLine]) -> bool:
    same_font = abs(left.height - right.height) <= 0.2 * max(left.height, right.height)
    if not same_font or has_field(left.text) or has_field(right.text):
        return False
    return any(
        box.x0 >= left.x1 - 2 and box.x1 <= right.x0 + 2 and box.y0 < right.y1 and box.y1 > right.y0
        for box in others
    )


def _overlaps(row: list[OcrLine], box: OcrLine) -> bool:
    """True when ``box`` shares at least half of its (or the row's) height with the row.

    Boxes of one row sit side by side: a box under one of the row's boxes starts a row
    of its own, even when a taller box beside both (a logo's word) spans the two lines;
    only a logo's words stack inside a row, between two of its boxes ('SAND BAR' [logo] 'STATION').
    """
    top, bottom = min(b.y0 for b in row), max(b.y1 for b in row)
    shared = min(bottom, box.y1) - max(top, box.y0)
    if shared < 0.5 * min(box.height, bottom - top):
        return False
    return not any(_stacked(other, box) and not _between_two(other, row) for other in row)


def _between_two(box: OcrLine, row: Sequence[OcrLine]) -> bool:
    """Some of ``row``'s boxes sit left of ``box`` and some right of it."""
    return any(b.x1 <= box.x0 + 2 for b in row) and any(b.x0 >= box.x1 - 2 for b in row)


def _stacked(upper: OcrLine, lower: OcrLine) -> bool:
    """``lower`` sits under ``upper`` (they share much of their width), not beside it."""
    shared = min(upper.x1, lower.x1) - max(upper.x0, lower.x0)
    return shared > _STACKED_SHARE * min(upper.x1 - upper.x0, lower.x1 - lower.x0) and lower.y0 > upper.y0


def _continues(above: Row, below: Row, room: float | None = None) -> bool:
    """A wrapped line: the row above ends mid-phrase, or the rows nearly touch.

    Rows that nearly touch are kept apart when the upper one ends with a whole field
    (a time, a host credit, an address), the lower one holds a field of its own
    ('with KJ Mike D' over the city line of a card, a name over its time), or the lower
    one's first word would have fit on the upper line in the ``room`` its column has: text
    wraps only when the next word does not fit, so 'Mulligan's Irish Pub' over 'East
    Village' in a card twice as wide is a title over its neighbourhood.
    """
    text, next_text = above.text.strip(), below.text.strip()
    if wraps_by_text(text, next_text):
        return True
    gap = below.y0 - above.y1
    same_font = abs(above.height - below.height) <= 0.15 * max(above.height, below.height)
    aligned = abs(above.boxes[0].x0 - below.boxes[0].x0) <= 0.5 * below.height
    overlap = (_WRAP_OVERLAP if aligned else 0.1) * below.height  # OCR's boxes of a left-aligned wrap overlap
    near = -overlap <= gap < _WRAP_GAP * min(above.height, below.height)
    if not (same_font and near) or names_day(next_text) or starts_a_sentence(next_text):
        return False
    return not ends_with_field(text) and not has_field(next_text) and not _had_room(above, below, room)


def _had_room(above: Row, below: Row, room: float | None) -> bool:
    """``below``'s first word would have fit after ``above`` in a column ``room`` wide."""
    words = below.text.split()
    if room is None or not words:
        return False
    letter = below.width / max(len(below.text.strip()), 1)
    return above.width + letter * (len(words[0]) + 1) <= _ROOM_SHARE * room


def _one_cell(row: Row) -> bool:
    """A row of one box, or of boxes a word apart: a phrase, not table cells."""
    return len(row.boxes) == 1 or " | " not in row.text


def group_rows(lines: Sequence[OcrLine], room: float | None = None) -> list[Row]:
    """Boxes grouped into visual rows (top to bottom), wrapped lines joined.

    ``room`` is the width the lines' column has (up to the next column of the page), when known.
    """
    rows: list[list[OcrLine]] = []
    for box in sorted(lines, key=lambda b: (b.y0 + b.y1) / 2):
        if rows and _overlaps(rows[-1], box):
            rows[-1].append(box)
        else:
            rows.append([box])
    visual: list[Row] = []
    logos: set[OcrLine] = set()
    for boxes in rows:
        rest, logo = _logo_apart(boxes, lines)
        visual += [Row.of(rest, lines)] if rest else []  # boxes between two of a row are never its own
        visual += [Row.stacked(logo)] if logo else []
        logos.update(logo)
    visual.sort(key=lambda row: row.boxes[0].y0)
    joined: list[Row] = visual[:1]
    for above, row in itertools.pairwise(visual):
        one_phrase = _one_cell(above) and _one_cell(row)  # never join table rows
        dangling = _one_cell(row) and ends_with_connector_word(above.text)
        logo_edge = (above.boxes[0] in logos) != (row.boxes[0] in logos)  # a logo never wraps into a name
        upper = Row(above.boxes, joined[-1].text)
        if (one_phrase or dangling) and not logo_edge and _continues(upper, row, room):
            joined[-1] = joined[-1].joined(row, " - " if lost_dash(joined[-1].text, row.text) else " ")
        else:
            joined.append(row)
    return joined


def split_blocks(rows: Sequence[Row], spacers: Sequence[OcrLine] = ()) -> list[list[Row]]:
    """Rows cut into blocks wherever the gap exceeds a median line height.

    ``spacers`` are boxes left out of the rows (a card's row of tag chips, a button): a gap
    they fill is not empty, so a card whose chips were dropped still holds together.
    """
    if not rows:
        return []
    line_height = statistics.median(row.height for row in rows)
    blocks: list[list[Row]] = [[rows[0]]]
    for above, below in itertools.pairwise(rows):
        if _empty_gap(above, below, spacers) > _BLOCK_GAP * line_height:
            blocks.append([])
        blocks[-1].append(below)
    return blocks


def _empty_gap(above: Row, below: Row, spacers: Sequence[OcrLine]) -> float:
    """The widest empty stretch between two rows, once the spacers between them are in place."""
    x0, x1 = min(above.x0, below.x0), max(above.x1, below.x1)
    between = sorted(
        (
            box
            for box in spacers
            if box.y0 >= above.y1 - 1 and box.y1 <= below.y0 + 1 and box.x0 < x1 and x0 < box.x1
        ),
        key=lambda box: box.y0,
    )
    widest, edge = 0.0, above.y1
    for box in between:
        widest, edge = max(widest, box.y0 - edge), max(edge, box.y1)
    return max(widest, below.y0 - edge)
