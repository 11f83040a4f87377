"""Render training images from the realistic corpus's dev split, OCR them, label every OCR line.

A web page's text nodes are read with their boxes from the browser at capture
time (``open_box_renderer``) and named by the sample's data (``labels``); each
OCR line takes the role of the boxes it overlaps most. A flyer is drawn by
Pillow, so its OCR lines are named by their text, loosely; a trap's lines are
all ``other``. Never the test split: the frozen corpus is for scoring only.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pipeline.line_roles.labels import Knowledge, role_of
from pipeline.line_roles.table import Image, Line
from pipeline.testing.realworld.browser import TextBox
from pipeline.testing.realworld.corpus import EXTRA_FAMILIES, draw_sample, encode_sample, sample_name
from pipeline.testing.realworld.pages_directory import NEIGHBOURHOODS
from pipeline.testing.realworld.pages_lists import DIRECTORY_BRANDS
from pipeline.testing.realworld.sample import Sample
from pipeline.testing.realworld.world import pool_for

__all__ = [
    "EXTRA_COUNT",
    "TRAIN_SEEDS",
    "align",
    "build_images",
    "knowledge_of",
    "theme_of",
    "training_plan",
]

TRAIN_SEEDS: tuple[int, ...] = (101, 102)
"""Dev-split seeds the committed table was rendered from (the rotation once each: 48 images)."""
EXTRA_COUNT = 4
"""Images of each family outside the rotation (``EXTRA_FAMILIES``), drawn from the first seed."""
_MIN_COVER = 0.25  # share of an OCR box an element's boxes must cover to give it their role


def knowledge_of(sample: Sample) -> Knowledge:
    """What the dev split's pools and this sample's truth say its names are."""
    world = pool_for("dev")
    places = [(p.name, p.street, p.city, p.tag) for p in world.places]
    places += [("", "", area, "") for area in NEIGHBOURHOODS]  # neighbourhood lines are 'area' too
    brands = (*world.vendors, *DIRECTORY_BRANDS, *(v.name for v in sample.truth.vendors))
    return Knowledge.of(
        sample.truth, places=places, djs=world.djs, brands=brands, trap=sample.family.startswith("trap")
    )


def align(ocr: Sequence[Any], elements: Sequence[TextBox], known: Knowledge) -> list[str]:
    """The role of each OCR line: that of the elements covering most of it, else ``other``."""
    element_roles = [role_of(text, known) for text, *_ in elements]
    roles: list[str] = []
    for line in ocr:
        area = max((line.x1 - line.x0) * (line.y1 - line.y0), 1.0)
        cover: dict[str, float] = {}
        for (_, x0, y0, x1, y1), role in zip(elements, element_roles, strict=True):
            width, height = min(line.x1, x1) - max(line.x0, x0), min(line.y1, y1) - max(line.y0, y0)
            if width > 0 and height > 0:
                cover[role] = cover.get(role, 0.0) + width * height
        best = max(cover, key=lambda role: cover[role], default=None)
        roles.append(best if best is not None and cover[best] >= _MIN_COVER * area else "other")
    return roles


def _labelled(sample: Sample, ocr: Sequence[Any], elements: Sequence[TextBox]) -> list[str]:
    known = knowledge_of(sample)
    if sample.html is not None:
        return align(ocr, elements, known)
    return [role_of(line.text, known, fuzzy=True) for line in ocr]


def training_plan(seeds: Sequence[int], count: int, extra: int) -> list[tuple[int, int, str | None]]:
    """(seed, index, family or None for the rotation's) of every training image."""
    plan: list[tuple[int, int, str | None]] = [
        (seed, index, None) for seed in seeds for index in range(1, count + 1)
    ]
    for family in EXTRA_FAMILIES:
        plan += [(seeds[0], index, family) for index in range(1, extra + 1)]
    return plan


def build_images(
    plan: Sequence[tuple[int, int, str | None]],
    *,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[tuple[Image, dict[str, Any]]]:
    """(labelled image, its truth as wire JSON with its family) for every (seed, index, family).

    With ``cache``, each image's labelled lines are kept there as JSON and read back
    on the next run instead of rendering and OCR again (an interrupted build resumes).
    """
    from PIL import Image as PilImage

    from pipeline.backends.base import LocalOptions
    from pipeline.backends.local.engine import LocalBackend
    from pipeline.testing.realworld.browser import open_box_renderer

    backend = LocalBackend(LocalOptions())
    with ExitStack() as stack:
        renderer = stack.enter_context(open_box_renderer())
        for seed, index, family in plan:
            started = time.perf_counter()
            sample = draw_sample("dev", seed, index, family)
            name = f"{seed}-{sample_name(index, sample)}"
            truth = {"family": sample.family, **sample.truth.to_wire()}
            kept = cache / f"{name}.json" if cache is not None else None
            if kept is not None and kept.is_file():
                rows = json.loads(kept.read_text(encoding="utf-8"))
                yield Image(name, sample.family, tuple(Line(*row) for row in rows)), truth
                continue
            elements: list[TextBox] = []
            if sample.html is not None and sample.viewport is not None:
                png, elements = renderer(sample.html, sample.viewport)
                data = encode_sample(sample, lambda html, viewport, shot=png: shot)
            else:
                data = encode_sample(sample, None)
            ocr = backend.read_text(PilImage.open(io.BytesIO(data)))
            roles = _labelled(sample, ocr, elements)
            lines = tuple(
                Line(line.text, line.x0, line.y0, line.x1, line.y1, line.score, role)
                for line, role in zip(ocr, roles, strict=True)
            )
            if kept is not None:
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text(json.dumps([list(vars(line).values()) for line in lines]), encoding="utf-8")
            log(f"{name}\t{len(lines)} lines\t{time.perf_counter() - started:.1f} s")
            yield Image(name, sample.family, lines), truth


def write_truth(truths: dict[str, dict[str, Any]], path: Path) -> None:
    """The training images' truth, in ``eval``'s truth format (to score the parser on the table)."""
    import gzip

    text = json.dumps(truths, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped:
        zipped.write(text.encode("utf-8"))


_BODY_BACKGROUND = re.compile(r"body\s*\{[^}]*?background:\s*#([0-9a-fA-F]{6})")


def theme_of(name: str, family: str) -> str:
    """The visual theme of a training image ('101-007-card-grid.png'): ``dark`` or ``light`` by
    its page's background, ``drawn`` for an image Pillow drew (a flyer, a photo), drawn again
    from its seed and index (no rendering)."""
    seed, index = (int(part) for part in name.split("-")[:2])
    sample = draw_sample("dev", seed, index, family)
    found = _BODY_BACKGROUND.search(sample.html or "")
    if found is None:
        return "drawn"
    red, green, blue = (int(found[1][i : i + 2], 16) for i in (0, 2, 4))
    return "dark" if 0.2126 * red + 0.7152 * green + 0.0722 * blue < 128 else "light"
