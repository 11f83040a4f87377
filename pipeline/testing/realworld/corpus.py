"""Seeded splits of the realistic corpus: which family each image is, and writing it out.

Image N of a split is drawn from ``random.Random("realworld:<split>:<seed>:<N>")``
with the split's own pools (see ``world.pool_for``), so it does not depend on
how many images are asked for, and the dev and test splits share no venue, DJ
or company. The frozen test split is ``generate_split("test", seed=TEST_SEED,
count=TEST_COUNT)``, committed under ``corpus/realworld-test/``.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from PIL import Image

from pipeline.schema import ParsedSchedule
from pipeline.testing.realworld.flyers import render_flyer
from pipeline.testing.realworld.flyers_logo import render_logo_flyer
from pipeline.testing.realworld.pages_cards import render_card_grid, render_venue_pane
from pipeline.testing.realworld.pages_directory import render_search_results, render_venue_page
from pipeline.testing.realworld.pages_lists import (
    render_a_z,
    render_link_in_bio,
    render_schedule_table,
    render_social_post,
    render_week_view,
)
from pipeline.testing.realworld.pages_status import render_closed_cards, render_day_tabs, render_ordinal_days
from pipeline.testing.realworld.sample import Sample
from pipeline.testing.realworld.traps import TRAPS
from pipeline.testing.realworld.world import World, pool_for

__all__ = [
    "EXTRA_FAMILIES",
    "FAMILIES",
    "ROTATION",
    "TEST_COUNT",
    "TEST_EXTRAS",
    "TEST_EXTRA_COUNT",
    "TEST_SEED",
    "TRUTH_FILE",
    "draw_sample",
    "generate_split",
    "sample_name",
]

Family = Callable[[random.Random, World], Sample]
FAMILIES: dict[str, Family] = {
    "card-grid": render_card_grid,
    "week-view": render_week_view,
    "a-z": render_a_z,
    "schedule-table": render_schedule_table,
    "venue-pane": render_venue_pane,
    "social-post": render_social_post,
    "link-in-bio": render_link_in_bio,
    "flyer": render_flyer,
    **TRAPS,
    "search-results": render_search_results,
    "venue-page": render_venue_page,
    "closed-cards": render_closed_cards,
    "ordinal-days": render_ordinal_days,
    "logo-flyer": render_logo_flyer,
    "day-tabs": render_day_tabs,
}
"""Layout family -> the function that draws one sample of it."""

EXTRA_FAMILIES: tuple[str, ...] = (
    "search-results", "venue-page", "closed-cards", "ordinal-days", "logo-flyer", "day-tabs",
)  # fmt: skip
"""Families the rotation never draws (so existing seeds keep their images): asked for by name."""

ROTATION: tuple[str, ...] = (
    "card-grid", "flyer", "venue-pane", "week-view", "schedule-table", "social-post",
    "card-grid", "flyer", "trap-menu", "link-in-bio", "venue-pane", "card-grid",
    "flyer", "a-z", "schedule-table", "trap-specials", "week-view", "social-post",
    "card-grid", "flyer", "venue-pane", "trap-sheet-music", "link-in-bio", "trap-photo",
)  # fmt: skip
"""24 images: every family, weighted towards the layouts that fail most in the issue."""

TEST_SEED = 20261201
TEST_COUNT = 48
TEST_EXTRAS: tuple[str, ...] = ("search-results", "venue-page")
"""Families outside the rotation the frozen split was extended with once (2026-12-05) ..."""
TEST_EXTRA_COUNT = 4
"""... with this many images each (indices 1-4 of the test seed)."""
TRUTH_FILE = "truth.json"


def draw_sample(split: str, seed: int, index: int, family: str | None = None) -> Sample:
    """Image ``index`` (1-based) of a split, before rendering (its HTML or image, and truth).

    Raises:
        ValueError: an unknown split or family.
    """
    family = family or ROTATION[(index - 1) % len(ROTATION)]
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known families: {', '.join(FAMILIES)}")
    rng = random.Random(f"realworld:{split}:{seed}:{index}")
    return FAMILIES[family](rng, pool_for(split))


def sample_name(index: int, sample: Sample) -> str:
    """'007-card-grid-phone.png'."""
    phone = "-phone" if sample.viewport is not None and sample.viewport.phone else ""
    extension = "jpg" if sample.fmt == "jpeg" else "png"
    return f"{index:03d}-{sample.family}{phone}.{extension}"


def encode_sample(sample: Sample, renderer: Callable[..., bytes] | None) -> bytes:
    """The file bytes of a sample: a browser capture, or the drawn image (JPEG with EXIF).

    Raises:
        RuntimeError: a web page without a renderer, or a sample with neither page nor image.
    """
    if sample.html is not None:
        if renderer is None or sample.viewport is None:
            raise RuntimeError(f"{sample.family} is a web page: it needs the Chromium renderer")
        shot = renderer(sample.html, sample.viewport)
        return shot if sample.fmt == "png" else _to_jpeg(Image.open(io.BytesIO(shot)), sample)
    if sample.image is None:
        raise RuntimeError(f"{sample.family}: a sample is either a page or an image, this is neither")
    if sample.fmt == "png":
        buffer = io.BytesIO()
        sample.image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    return _to_jpeg(sample.image, sample)


def _to_jpeg(image: Image.Image, sample: Sample) -> bytes:
    exif = Image.Exif()
    if sample.captured:
        exif.get_ifd(0x8769)[0x9003] = sample.captured  # Exif IFD: DateTimeOriginal
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=sample.quality, exif=exif.tobytes())
    return buffer.getvalue()


def _renderer_for(needs_browser: bool) -> AbstractContextManager[Callable[..., bytes] | None]:
    if not needs_browser:
        return nullcontext(None)
    from pipeline.testing.realworld.browser import open_renderer

    return open_renderer()


def iter_split(
    split: str, seed: int, count: int, families: tuple[str, ...] = ()
) -> Iterator[tuple[int, Sample]]:
    """(index, sample) for images 1..count; with ``families``, only images of those families.

    A family outside the rotation (``EXTRA_FAMILIES``) gives an image of its own at every index.
    """
    extra = [family for family in families if family in EXTRA_FAMILIES]
    for index in range(1, count + 1):
        sample = draw_sample(split, seed, index)
        if not families or sample.family in families:
            yield index, sample
        for family in extra:
            yield index, draw_sample(split, seed, index, family)


def generate_split(
    out_dir: Path,
    *,
    split: str,
    seed: int,
    count: int,
    families: tuple[str, ...] = (),
    keep_html: bool = False,
) -> dict[str, tuple[str, ParsedSchedule]]:
    """Write the images of a split and ``truth.json`` (with a ``family`` per image) into ``out_dir``.

    ``keep_html`` also writes each web page's HTML beside its capture, to open in a browser.

    Returns:
        File name -> (family, truth).
    """
    samples = list(iter_split(split, seed, count, families))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[str, ParsedSchedule]] = {}
    with _renderer_for(any(s.html is not None for _, s in samples)) as renderer:
        for index, sample in samples:
            name = sample_name(index, sample)
            (out_dir / name).write_bytes(encode_sample(sample, renderer))
            if keep_html and sample.html is not None:
                (out_dir / name).with_suffix(".html").write_text(sample.html, encoding="utf-8")
            written[name] = (sample.family, sample.truth)
    wire = {name: {"family": family, **truth.to_wire()} for name, (family, truth) in written.items()}
    (out_dir / TRUTH_FILE).write_text(json.dumps(wire, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return written
