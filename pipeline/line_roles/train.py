"""``python -m pipeline.line_roles.train [--build]``: the labelled table and the model, from scratch.

``--build`` renders the training images (dev split, ``TRAIN_SEEDS``), runs the
real OCR on them and rewrites ``data/line_roles/lines.csv.gz`` and
``truth.json.gz`` (minutes: Chromium and OCR). Without it, only the model is
fitted again from the committed table (seconds) and written to
``pipeline/line_roles/model.json``; the same table always gives the same model.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.line_roles.model import MODEL_FILE, fit, save_model
from pipeline.line_roles.table import DATA_DIR, LINES_FILE, read_table, write_table

__all__ = ["TRUTH_FILE", "main"]

TRUTH_FILE = DATA_DIR / "truth.json.gz"


def _build(
    seeds: Sequence[int], count: int, extra: int, lines: Path, truth: Path, cache: Path | None
) -> None:
    from pipeline.line_roles.dataset import build_images, training_plan, write_truth

    images, truths = [], {}
    started = time.perf_counter()
    for image, wire in build_images(training_plan(seeds, count, extra), cache=cache):
        images.append(image)
        truths[image.name] = wire
    write_table(images, lines)
    write_truth(truths, truth)
    total = sum(len(image.lines) for image in images)
    print(f"{len(images)} images, {total} lines in {time.perf_counter() - started:.0f} s -> {lines}")


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.line_roles.dataset import EXTRA_COUNT, TRAIN_SEEDS

    parser = argparse.ArgumentParser(prog="python -m pipeline.line_roles.train", description=__doc__)
    parser.add_argument("--build", action="store_true", help="render + OCR the training images first")
    parser.add_argument("--seeds", default=",".join(map(str, TRAIN_SEEDS)), help="dev-split seeds to render")
    parser.add_argument("--count", type=int, default=24, help="images per seed")
    parser.add_argument("--cache", type=Path, help="keep each image's labelled lines here; a rerun resumes")
    parser.add_argument(
        "--extra", type=int, default=EXTRA_COUNT, help="images of each family outside the rotation"
    )
    parser.add_argument("--lines", type=Path, default=LINES_FILE)
    parser.add_argument("--truth", type=Path, default=TRUTH_FILE)
    parser.add_argument("--model", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    if args.build:
        _build(
            tuple(int(s) for s in args.seeds.split(",")),
            args.count,
            args.extra,
            args.lines,
            args.truth,
            args.cache,
        )
    images = read_table(args.lines)
    started = time.perf_counter()
    model = fit(images)
    save_model(model, args.model)
    print(f"model of {len(images)} images fitted in {time.perf_counter() - started:.1f} s -> {args.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
