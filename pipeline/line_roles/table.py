"""The committed table of labelled OCR lines: one row per line, grouped by image.

Each row keeps the OCR line itself (text, box, score) and its role, not the
features: features are computed from the lines in code, so changing a feature
needs no new OCR. ``data/line_roles/lines.csv.gz`` is written with a fixed
gzip time stamp so the same lines give the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATA_DIR", "LINES_FILE", "Image", "Line", "read_table", "write_table"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "line_roles"
LINES_FILE = DATA_DIR / "lines.csv.gz"
_COLUMNS = ("image", "family", "role", "x0", "y0", "x1", "y1", "score", "text")


@dataclass(frozen=True)
class Line:
    """One OCR line with its role (``OcrLine``'s shape plus ``role``)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    role: str


@dataclass(frozen=True)
class Image:
    """The labelled lines of one screenshot of the training set."""

    name: str
    family: str
    lines: tuple[Line, ...]


def write_table(images: Iterable[Image], path: Path = LINES_FILE) -> None:
    """Write every image's lines as gzip'd CSV, byte for byte the same for the same lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for image in images:
        for line in image.lines:
            box = (
                f"{line.x0:.1f}",
                f"{line.y0:.1f}",
                f"{line.x1:.1f}",
                f"{line.y1:.1f}",
                f"{line.score:.3f}",
            )
            writer.writerow((image.name, image.family, line.role, *box, line.text))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped:
        zipped.write(buffer.getvalue().encode("utf-8"))


def read_table(path: Path = LINES_FILE) -> list[Image]:
    """The images of the table, in the order they were written."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    images: dict[str, tuple[str, list[Line]]] = {}
    for row in rows:
        _, lines = images.setdefault(row["image"], (row["family"], []))
        lines.append(
            Line(row["text"], float(row["x0"]), float(row["y0"]), float(row["x1"]), float(row["y1"]),
                 float(row["score"]), row["role"])
        )  # fmt: skip
    return [Image(name, family, tuple(lines)) for name, (family, lines) in images.items()]


def families_of(images: Sequence[Image]) -> list[str]:
    """The families in the table, sorted."""
    return sorted({image.family for image in images})
