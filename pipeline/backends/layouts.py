"""Page geometry for the rule parser: OCR boxes into rows, blocks and table cells.

OCR returns one box per run of text. Boxes that overlap vertically form a
``Row``; a row that only continues the one above (a wrapped line, a zip code
under its street) is joined to it; a vertical gap larger than a line separates
``blocks`` (the shows of a flyer). A table is found by its header row (Day |
Venue | Time | DJ ...) and every later box is cut into that header's columns,
word by word when OCR merged neighbouring cells into one box.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.addresses import find_address, find_phone
from pipeline.clean import find_date, find_day_phrases, normalize_time_range

__all__ = [
    "GRID_DAY",
    "Column",
    "OcrLine",
    "Row",
    "box_column",
    "find_table_header",
    "group_rows",
    "is_header_text",
    "split_blocks",
    "table_cells",
    "wrapped_cells_joined",
]

_CONNECTOR_END = re.compile(
    r"(?:[&|,+@(\-\u2013\u2014]|\b(?:with|by|at|and|of|w/|dj|kj|till?|until|to|presented|hosted))$",
    re.IGNORECASE,
)
_CREDIT = re.compile(r"\b(?:with|w/|hosted\s+by|presented\s+by|dj|kj)\s+\S", re.IGNORECASE)
_CREDIT_END = re.compile(
    r"\b(?:with|w/|hosted\s+by|presented\s+by|dj|kj)\s+[\w'.]+(?:\s+[\w'.]+){0,2}$", re.IGNORECASE
)
_CONTINUATION_START = re.compile(
    r"^(?:[ap]\.?m\b|[-\u2013\u2014]\s*\d|(?:till?|'til|until|to|thru)\s+(?:close|late|\d))", re.IGNORECASE
)
_CONNECTOR_WORD_END = re.compile(r"\b(?:with|by|w/|dj|kj|presented|hosted)$", re.IGNORECASE)
_CLOCK_TEXT = r"\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?"
_ENDS_WITH_CLOCK = re.compile(rf"(?<![-\u2013\u2014]\s)(?<![-\u2013\u2014])\b{_CLOCK_TEXT}$", re.IGNORECASE)
_STARTS_WITH_CLOCK = re.compile(rf"^(?:{_CLOCK_TEXT}|close\b|late\b|midnight\b)(?:\s|$)", re.IGNORECASE)
_INITIAL = re.compile(r"^[A-Z]\.?$")  # 'W/ DJ MIKE' / 'D'
_SENTENCE = re.compile(r"^[A-Z][a-z']*(?:\s+[a-z][a-z']*){2,}")  # 'Open mic night coming soon'
_ZIP_ONLY = re.compile(r"^\d{5}(?:-\d{4})?$")
_WRAP_GAP = 0.25  # gap / line height below which a row continues the one above
_WORD_GAP = 0.5  # gap / text height below which two boxes of a row are one phrase
_DANGLING_CELL = re.compile(r"[-\u2013\u2014]\s*(?:\||$)")  # a cell ending in a dash
_CELL_WRAP_GAP = 0.5  # gap / line height below which a table row continues the one above
_BLOCK_GAP = 1.0  # gap / median line height above which a new block starts

HEADER_WORDS: dict[str, str] = {
    "day": "day", "days": "day", "night": "day", "nights": "day", "when": "day", "date": "day",
    "venue": "venue", "venues": "venue", "location": "venue", "bar": "venue", "place": "venue",
    "where": "venue", "time": "time", "times": "time", "hours": "time", "start": "time",
    "dj": "dj", "kj": "dj", "host": "dj", "dj/kj": "dj", "kj/dj": "dj", "djs": "dj",
    "address": "address", "addr": "address", "street": "address", "city": "city",
}  # fmt: skip
_HEADER_FILLER = {"name", "of", "week", "&", "/", "-"}
GRID_DAY = "grid:"  # column kind prefix of a weekday column: "grid:monday"
# A weekly grid names one column per weekday: 'Venue | Mon | Tue | ...'.
WEEKDAY_HEADERS: dict[str, str] = {
    word: f"{GRID_DAY}{day}"
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    for word in (day, day[:3], f"{day}s")
} | {"tues": "grid:tuesday", "weds": "grid:wednesday", "thur": "grid:thursday", "thurs": "grid:thursday"}
_EPOCH = dt.date(2000, 1, 1)  # any date: only whether a date is present matters


@dataclass(frozen=True)
class OcrLine:
    """One OCR text box: its text, axis-aligned bounds in pixels and recognition score."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)


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
    def score(self) -> float:
        return min(box.score for box in self.boxes)

    def joined(self, below: Row, glue: str = " ") -> Row:
        """This row with ``below`` appended as the continuation of its text."""
        return Row(self.boxes + below.boxes, f"{self.text}{glue}{below.text}")


def _without_stacked_logo(boxes: list[OcrLine]) -> list[list[OcrLine]]:
    """A row, and apart from it the boxes set off its line between two that share one (a logo's words)."""
    ordered = sorted(boxes, key=lambda box: box.x0)
    logo: list[OcrLine] = []
    for left, middle, right in zip(ordered, ordered[1:], ordered[2:], strict=False):
        if _set_off(middle, left, right):
            logo.append(middle)
    if len(ordered) >= 4 and not logo:  # two logo words between the halves of a name
        first, last = ordered[0], ordered[-1]
        inner = ordered[1:-1]
        if all(_set_off(box, first, last) for box in inner):
            logo = inner
    if not logo:
        return [boxes]
    return [[box for box in boxes if box not in logo], *([box] for box in logo)]


def _set_off(middle: OcrLine, left: OcrLine, right: OcrLine) -> bool:
    """``middle`` sits off the line that ``left`` and ``right`` share."""

    def centre(box: OcrLine) -> float:
        return (box.y0 + box.y1) / 2

    aligned = abs(centre(left) - centre(right)) <= 0.1 * left.height
    return aligned and abs(centre(middle) - (centre(left) + centre(right)) / 2) > 0.25 * left.height


def _around_a_logo(left: OcrLine, right: OcrLine, others: Sequence[OcrLine]) -> bool:
    same_font = abs(left.height - right.height) <= 0.2 * max(left.height, right.height)
    if not same_font or _has_field(left.text) or _has_field(right.text):
        return False
    return any(
        box.x0 >= left.x1 - 2 and box.x1 <= right.x0 + 2 and box.y0 < right.y1 and box.y1 > right.y0
        for box in others
    )


def _overlaps(row: list[OcrLine], box: OcrLine) -> bool:
    """True when ``box`` shares at least half of its (or the row's) height with the row."""
    top, bottom = min(b.y0 for b in row), max(b.y1 for b in row)
    shared = min(bottom, box.y1) - max(top, box.y0)
    return shared >= 0.5 * min(box.height, bottom - top)


def _has_days(text: str) -> bool:
    return bool(find_day_phrases(text)) or find_date(text, _EPOCH) is not None


def _continues(above: Row, below: Row) -> bool:
    """A wrapped line: the row above ends mid-phrase, or the rows nearly touch.

    Rows that nearly touch are kept apart when the upper one ends with a whole field
    (a time, a host credit, an address) or the lower one holds a field of its own
    ('with KJ Mike D' over the city line of a card, a name over its time).
    """
    text, next_text = above.text.strip(), below.text.strip()
    if _CONNECTOR_END.search(text) or _ZIP_ONLY.match(next_text) or _CONTINUATION_START.match(next_text):
        return True
    if _city_line_of(text, next_text) or _lost_dash(text, next_text) or _INITIAL.match(next_text):
        return True
    if (
        _CREDIT_END.search(text)
        and text.isupper()
        and next_text.isupper()
        and not _has_field(next_text)
        and not _has_days(next_text)
    ):
        return True  # a headline in capitals wraps inside the host's name ('... DJ TOMMY' / 'TUNES')
    gap = below.y0 - above.y1
    same_font = abs(above.height - below.height) <= 0.15 * max(above.height, below.height)
    near = -0.1 * below.height <= gap < _WRAP_GAP * min(above.height, below.height)  # lines never overlap
    if not (same_font and near) or _has_days(next_text) or _SENTENCE.match(next_text):
        return False
    return not _ends_with_field(text) and not _has_field(next_text)


def _city_line_of(street_line: str, below: str) -> bool:
    """'2717 S Elm St' over 'Tampa, FL 33672': one address on two lines."""
    street = find_address(street_line)
    if street is None or street.city is not None or not street_line.endswith(street.text):
        return False
    whole = find_address(f"{street_line} {below}")
    return whole is not None and whole.city is not None and f"{street_line} {below}".find(whole.text) >= 0


def _has_field(text: str) -> bool:
    return bool(normalize_time_range(text) or _CREDIT.search(text) or find_address(text) or find_phone(text))


def _ends_with_field(text: str) -> bool:
    """True when the line's last words are a time, a host credit, an address or a phone."""
    time = normalize_time_range(text)
    address = find_address(text)
    phone = find_phone(text)
    ends = [found.text for found in (time, address) if found is not None] + ([phone] if phone else [])
    return bool(_CREDIT_END.search(text)) or any(text.endswith(part) for part in ends)


def _one_cell(row: Row) -> bool:
    """A row of one box, or of boxes a word apart: a phrase, not table cells."""
    return len(row.boxes) == 1 or " | " not in row.text


def group_rows(lines: Sequence[OcrLine]) -> list[Row]:
    """Boxes grouped into visual rows (top to bottom), wrapped lines joined."""
    rows: list[list[OcrLine]] = []
    for box in sorted(lines, key=lambda b: (b.y0 + b.y1) / 2):
        if rows and _overlaps(rows[-1], box):
            rows[-1].append(box)
        else:
            rows.append([box])
    rows = sorted((part for boxes in rows for part in _without_stacked_logo(boxes)), key=lambda r: r[0].y0)
    visual = [Row.of(boxes, lines) for boxes in rows]  # boxes between two of a row are never its own
    joined: list[Row] = visual[:1]
    for above, row in itertools.pairwise(visual):
        one_phrase = _one_cell(above) and _one_cell(row)  # never join table rows
        dangling = _one_cell(row) and _CONNECTOR_WORD_END.search(above.text) is not None
        if (one_phrase or dangling) and _continues(Row(above.boxes, joined[-1].text), row):
            joined[-1] = joined[-1].joined(row, " - " if _lost_dash(joined[-1].text, row.text) else " ")
        else:
            joined.append(row)
    return joined


def _lost_dash(above: str, below: str) -> bool:
    """'... 9:00 PM' over '1:00 AM ...': a range whose dash OCR did not read."""
    return bool(_ENDS_WITH_CLOCK.search(above) and _STARTS_WITH_CLOCK.match(below))


def split_blocks(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows cut into blocks wherever the gap exceeds a median line height."""
    if not rows:
        return []
    line_height = statistics.median(row.height for row in rows)
    blocks: list[list[Row]] = [[rows[0]]]
    for above, below in itertools.pairwise(rows):
        if below.y0 - above.y1 > _BLOCK_GAP * line_height:
            blocks.append([])
        blocks[-1].append(below)
    return blocks


# --- tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One table column: what it holds (day, venue, time, dj, address, city) and its header span."""

    kind: str
    x0: float
    x1: float


@dataclass(frozen=True)
class _Piece:
    """A box or a word cut out of a merged box, with its estimated span."""

    text: str
    x0: float
    x1: float


def _char_width(char: str) -> float:
    """Rough width of a character in a proportional font, relative to a lower-case letter."""
    if char in " il.,:;'|!()[]":
        return 0.5
    if char in "MWmw@%":
        return 1.5
    return 1.25 if char.isupper() or char.isdigit() else 1.0


def words_of(box: OcrLine) -> list[_Piece]:
    """The words of a box, placed by their share of its width (OCR gives no word boxes)."""
    offsets = [0.0]
    for char in box.text:
        offsets.append(offsets[-1] + _char_width(char))
    scale = (box.x1 - box.x0) / max(offsets[-1], 1.0)
    return [
        _Piece(m.group(0), box.x0 + offsets[m.start()] * scale, box.x0 + offsets[m.end()] * scale)
        for m in re.finditer(r"\S+", box.text)
    ]


def _header_columns(row: Row, *, need_venue: bool = True) -> list[Column] | None:
    """Columns named by a header row, or None when the row is not a header.

    Without ``need_venue`` a venue pane's own table (Day | Time | Host) counts too.
    """
    columns: list[Column] = []
    words = [piece for box in row.boxes for piece in words_of(box)]
    for piece in words:
        word = piece.text.lower().strip(":|.")
        kind = HEADER_WORDS.get(word) or WEEKDAY_HEADERS.get(word)
        if kind is not None and not any(c.kind == kind for c in columns):
            columns.append(Column(kind, piece.x0, piece.x1))
        elif kind is None and piece.text.lower() not in _HEADER_FILLER:
            return None
    kinds = {c.kind for c in columns}
    grid = sum(kind.startswith(GRID_DAY) for kind in kinds) >= 2
    if not need_venue:
        return columns if {"day", "time"} <= kinds and "venue" not in kinds else None
    if len(columns) < 3 or not kinds & {"venue"} or not (kinds & {"day", "time"} or grid):
        return None
    return columns


def is_header_text(text: str) -> bool:
    """A box made only of column names ('Day', 'Time', 'Host', 'Venue Name')."""
    words = [word.strip(":|.") for word in text.lower().split()]
    named = [word for word in words if word in HEADER_WORDS or word in WEEKDAY_HEADERS]
    return bool(named) and all(
        word in HEADER_WORDS or word in WEEKDAY_HEADERS or word in _HEADER_FILLER for word in words
    )


def find_table_header(rows: Sequence[Row], *, need_venue: bool = True) -> tuple[int, list[Column]] | None:
    """Index and columns of the first header row, if the page (or a pane) is a table."""
    for index, row in enumerate(rows):
        columns = _header_columns(row, need_venue=need_venue)
        if columns is not None:
            return index, columns
    return None


def _left_aligned(rows: Sequence[Row], columns: Sequence[Column]) -> bool:
    """True when most cells start where their header starts (else cells are centred)."""
    tolerance = 0.6 * statistics.median(row.height for row in rows)
    boxes = [box for row in rows for box in row.boxes]
    starts = sum(any(abs(box.x0 - c.x0) <= tolerance for c in columns) for box in boxes)
    return starts >= 0.5 * len(boxes)


def box_column(box: OcrLine, columns: Sequence[Column], left: bool) -> int:
    """Column of a whole box: OCR breaks boxes at column gaps, so a box starts a cell."""
    if left:
        return min(range(len(columns)), key=lambda i: abs(columns[i].x0 - box.x0))
    middle = (box.x0 + box.x1) / 2
    return min(range(len(columns)), key=lambda i: abs((columns[i].x0 + columns[i].x1) / 2 - middle))


def _word_column(word: _Piece, columns: Sequence[Column], first: int, tolerance: float) -> int:
    """Column of a word cut from a merged box: the last column it starts after."""
    index = first
    for i in range(first + 1, len(columns)):
        if word.x0 >= columns[i].x0 - tolerance:
            index = i
    return index


def wrapped_cells_joined(body: Sequence[Row]) -> list[Row]:
    """Table rows whose cells wrap ('The Tipsy' / 'Crow', '7:30PM -' / '11:30PM') read as one row.

    Lines of one cell sit close together: a row that follows the one above at less
    than half a line's height continues it when the row above leaves a range open
    ('7:30PM -') or the row below holds no time of its own ('Spur Saloon'), and it
    names no day (a day row over the rows of that day).
    """
    joined: list[Row] = []
    for row in body:
        near = joined and _CELL_WRAP_GAP * row.height > row.y0 - joined[-1].y1 and not _has_days(row.text)
        if near and (_DANGLING_CELL.search(joined[-1].text) or normalize_time_range(row.text) is None):
            above = joined[-1]
            boxes = tuple(sorted(above.boxes + row.boxes, key=lambda box: (box.y0, box.x0)))
            joined[-1] = Row(boxes, f"{above.text} {row.text}")
        else:
            joined.append(row)
    return joined


def table_cells(row: Row, columns: Sequence[Column], body: Sequence[Row]) -> dict[str, str]:
    """The text of ``row`` per column kind; boxes spanning several columns are cut word by word."""
    left = _left_aligned(body, columns)
    tolerance = 0.75 * row.height
    cells: dict[str, list[str]] = {}
    for box in row.boxes:
        first = box_column(box, columns, left)
        spans_next = first + 1 < len(columns) and box.x1 > columns[first + 1].x0 + tolerance
        if not spans_next:
            cells.setdefault(columns[first].kind, []).append(box.text.strip())
            continue
        for word in words_of(box):
            cells.setdefault(columns[_word_column(word, columns, first, tolerance)].kind, []).append(
                word.text
            )
    return {kind: " ".join(texts) for kind, texts in cells.items()}
