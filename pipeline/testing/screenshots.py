"""Deterministic synthetic screenshots of karaoke schedules, with their ground truth.

Each image is drawn by one layout (see ``LAYOUTS``: lines, table, flyer, social,
prose, dated, monthly, grid, story, dark-table, photo, phone, venue and three
traps) from a ``random.Random`` seeded by the corpus seed and the image index,
so image N is the same whatever ``count`` is. The truth is built from the
generator's own tables, never by a parser, so it can score the parsers.

Usage::

    python -m pipeline.testing.screenshots --out examples/screenshots --seed 1 --count 12
    python -m pipeline.testing.screenshots --out /tmp/corpus --seed 2026 --count 68 --layouts all
"""

from __future__ import annotations

import argparse
import io
import json
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from pipeline.schema import ParsedSchedule
from pipeline.scores import read_truth
from pipeline.testing.screenshot_layouts_more import LAYOUTS

# The default mix: per 12 images, 3 lines, 3 table, 3 flyer, 2 social, 1 trap.
DEFAULT_ROTATION: tuple[str, ...] = (
    "lines", "table", "flyer", "social", "lines", "table",
    "flyer", "trap", "lines", "table", "flyer", "social",
)  # fmt: skip
FORMATS: dict[str, str] = {"png": "png", "jpeg": "jpg", "jpg": "jpg"}
NATIVE_FORMATS: dict[str, str] = {"photo": "jpeg"}  # a photo is a JPEG whatever the corpus format
ALL = "all"  # ``--layouts all``: every layout in turn
TRUTH_FILE = "truth.json"


def render_sample(layout: str, rng: random.Random) -> tuple[Image.Image, ParsedSchedule]:
    """Draw one screenshot of ``layout`` in memory, with its truth.

    Raises:
        ValueError: ``layout`` is not one of ``LAYOUTS``.
    """
    try:
        render = LAYOUTS[layout]
    except KeyError:
        known = ", ".join(LAYOUTS)
        raise ValueError(f"unknown layout {layout!r}; known layouts: {known}") from None
    return render(rng)


def sample_rng(seed: int, index: int) -> random.Random:
    """The generator of image ``index`` in the corpus of ``seed``."""
    return random.Random(f"karaoke-screenshots:{seed}:{index}")


def encode_image(image: Image.Image, fmt: str) -> bytes:
    """PNG (optimised) or JPEG (quality 85) bytes of ``image``."""
    buffer = io.BytesIO()
    if FORMATS[fmt] == "png":
        image.save(buffer, format="PNG", optimize=True)
    else:
        image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def generate_corpus(
    out_dir: Path,
    *,
    seed: int,
    count: int,
    layouts: Sequence[str] | None = None,
    fmt: str = "png",
) -> dict[str, ParsedSchedule]:
    """Write ``count`` images named like ``007-table.png`` and ``truth.json`` into ``out_dir``.

    Layouts are taken in turn from ``layouts`` (default: ``DEFAULT_ROTATION``).

    Returns:
        File name -> truth, the same mapping ``truth.json`` holds in camelCase.

    Raises:
        ValueError: an unknown layout or format.
    """
    rotation = tuple(LAYOUTS) if list(layouts or ()) == [ALL] else tuple(layouts or DEFAULT_ROTATION)
    unknown = sorted(set(rotation) - set(LAYOUTS)) + ([] if fmt in FORMATS else [fmt])
    if unknown:
        raise ValueError(f"unknown layout or format {unknown}; layouts: {', '.join(LAYOUTS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    truth: dict[str, ParsedSchedule] = {}
    for index in range(1, count + 1):
        layout = rotation[(index - 1) % len(rotation)]
        image, schedule = render_sample(layout, sample_rng(seed, index))
        image_format = NATIVE_FORMATS.get(layout, fmt)
        name = f"{index:03d}-{layout}.{FORMATS[image_format]}"
        (out_dir / name).write_bytes(encode_image(image, image_format))
        truth[name] = schedule
    wire = {name: schedule.to_wire() for name, schedule in truth.items()}
    (out_dir / TRUTH_FILE).write_text(json.dumps(wire, indent=2, ensure_ascii=False) + "\n")
    return truth


def load_truth(path: Path) -> dict[str, ParsedSchedule]:
    """Read a ``truth.json`` back into models (the format ``karaoke-pipeline eval`` reads)."""
    return read_truth(path)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.testing.screenshots",
        description="Write synthetic karaoke schedule screenshots and truth.json.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--count", type=int, default=12, help="number of images (default 12)")
    parser.add_argument(
        "--layouts", default=None, help=f"'all' or comma-separated, from: {','.join(LAYOUTS)}"
    )
    parser.add_argument("--format", dest="fmt", choices=sorted(FORMATS), default="png")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; prints one line per written image."""
    args = build_parser().parse_args(argv)
    layouts = [name.strip() for name in args.layouts.split(",")] if args.layouts else None
    truth = generate_corpus(args.out, seed=args.seed, count=args.count, layouts=layouts, fmt=args.fmt)
    for name, schedule in truth.items():
        print(f"{args.out / name}\t{len(schedule.shows)} shows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
