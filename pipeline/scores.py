"""Truth files, the tallies of an evaluation and the rates derived from them (per image, per layout
family and overall).

``Counts`` is what ``pipeline.evaluate`` fills for one image; counts add up
field by field, so a family's or a corpus's figures are sums, never averages
of rates. A layout family ('card-grid', 'flyer', 'trap-menu') is named by the
truth file (``family`` in an entry) or, for older truth files, by the image's
file name ('007-table.png' is 'table').
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, computed_field

from pipeline.schema import ParsedSchedule, Show, WireModel

__all__ = [
    "Counts",
    "FamilyScore",
    "ImageScore",
    "family_of",
    "read_families",
    "read_truth",
    "score_families",
]


def ratio(part: int, whole: int) -> float:
    """part / whole, with 1.0 for 0/0 (nothing to find and nothing found is perfect)."""
    return part / whole if whole else 1.0


class Counts(WireModel):
    """Tallies of one image or a whole corpus; the rates are derived from them."""

    true_shows: int = 0
    predicted_shows: int = 0
    matched: int = 0
    end_time_right: int = 0
    dj_right: int = 0
    address_checked: int = Field(default=0, description="matched shows where either side has an address")
    address_right: int = 0
    venue_checked: int = Field(
        default=0, description="true shows whose day (or date) and start time were found, venue aside"
    )
    venue_right: int = Field(default=0, description="of those, how many also have the right venue")

    def plus(self, other: Counts) -> Counts:
        """Field-wise sum, to total images into a corpus."""
        return Counts.model_validate(
            {name: getattr(self, name) + getattr(other, name) for name in Counts.model_fields}
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float:
        return ratio(self.matched, self.predicted_shows)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float:
        return ratio(self.matched, self.true_shows)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_time_accuracy(self) -> float:
        return ratio(self.end_time_right, self.matched)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dj_accuracy(self) -> float:
        return ratio(self.dj_right, self.matched)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def address_accuracy(self) -> float:
        return ratio(self.address_right, self.address_checked)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def venue_accuracy(self) -> float:
        """Right venue among shows whose day and start were read: 'which line is the venue'."""
        return ratio(self.venue_right, self.venue_checked)


class ImageScore(WireModel):
    """The score of one image, with the shows it missed and the ones it made up."""

    name: str
    family: str = Field(default="", description="layout family ('card-grid', 'flyer', ...)")
    counts: Counts
    trap: bool = Field(description="the truth has no shows: any predicted show is a false positive")
    error: str | None = Field(default=None, description="error code when the image failed")
    missed: list[Show] = Field(default_factory=list)
    spurious: list[Show] = Field(default_factory=list)


class FamilyScore(WireModel):
    """The summed counts of every image of one layout family."""

    family: str
    images: int
    trap_images: int = Field(description="images of the family whose truth has no shows")
    counts: Counts
    trap_shows: int = Field(description="shows read from this family's trap images (must be 0)")


_NUMBERED_NAME = re.compile(r"^\d+[-_](?P<family>.+?)(?:-phone)?$")


def family_of(image_name: str) -> str:
    """The family an image's file name implies: '007-table.png' -> 'table', 'x.png' -> 'x'."""
    stem = image_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    match = _NUMBERED_NAME.match(stem)
    return match.group("family") if match else stem


def score_families(images: Sequence[ImageScore]) -> list[FamilyScore]:
    """One FamilyScore per family, sorted by name."""
    by_family: dict[str, list[ImageScore]] = {}
    for image in images:
        by_family.setdefault(image.family, []).append(image)
    scores = []
    for family, members in sorted(by_family.items()):
        counts = Counts()
        for member in members:
            counts = counts.plus(member.counts)
        scores.append(
            FamilyScore(
                family=family,
                images=len(members),
                trap_images=sum(m.trap for m in members),
                counts=counts,
                trap_shows=sum(m.counts.predicted_shows for m in members if m.trap),
            )
        )
    return scores


def read_truth(path: Path) -> dict[str, ParsedSchedule]:
    """A truth file: image file name -> ParsedSchedule (camelCase JSON, like ``truth.json``)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: ParsedSchedule.model_validate(value) for name, value in raw.items()}


def read_families(path: Path) -> dict[str, str]:
    """Image file name -> layout family: an entry's ``family``, else what its file name implies.

    ``family`` is the one key a truth entry may add to ParsedSchedule (which
    ignores it), so truth files with and without it read the same way.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: str(value.get("family") or family_of(name)) for name, value in raw.items()}
