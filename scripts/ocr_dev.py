"""Dev loop for the local parser: OCR boxes cached on disk by image sha256, then parse + score.

OCR is slow (seconds per image); the parser is fast. This script runs the local
backend's OCR once per image (cache key: sha256 + OCR settings version), stores the
boxes as JSON under ``--cache`` and re-parses from the cache on every run, so a rule
change is measured in seconds. Not part of the library.

    python scripts/ocr_dev.py DIR [DIR...] [--truth FILE] [--show-errors] [--time]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

from pipeline.backends.base import LocalOptions
from pipeline.backends.local.engine import OCR_VERSION, LocalBackend, capture_date, read_lines
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.shades import with_backgrounds
from pipeline.evaluate import Counts, score_image
from pipeline.line_roles.venues import committed_model
from pipeline.scores import read_truth

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
_CACHED = ("text", "x0", "y0", "x1", "y1", "score")


def _boxes(backend: LocalBackend | None, path: Path, cache: Path) -> tuple[list[OcrLine], float] | None:
    data = path.read_bytes()
    key = f"{hashlib.sha256(data).hexdigest()}-{OCR_VERSION}"
    file = cache / f"{key}.json"
    if file.exists():
        return [OcrLine(**box) for box in json.loads(file.read_text())], 0.0
    if backend is None:
        return None
    started = time.perf_counter()
    with Image.open(path) as image:
        image.load()
        lines = backend.read_text(image)
    spent = time.perf_counter() - started
    # the OCR fields only: a cache written here reads back in any branch (colours come after OCR)
    file.write_text(json.dumps([{field: getattr(line, field) for field in _CACHED} for line in lines]))
    return lines, spent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/i10-ocr-cache"))
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--reference-date", type=dt.date.fromisoformat)
    parser.add_argument("--cached-only", action="store_true", help="score only images already OCR'd")
    parser.add_argument("--line-roles", action="store_true", help="with the line-role model's venue stage")
    args = parser.parse_args()
    model = committed_model() if args.line_roles else None
    args.cache.mkdir(parents=True, exist_ok=True)
    backend = None if args.cached_only else LocalBackend(LocalOptions(ocr_threads=1))
    by_family: dict[str, Counts] = defaultdict(Counts)
    total_ocr = total_parse = 0.0
    ocr_images = 0
    for folder in args.dirs:
        truth_file = args.truth or folder / "truth.json"
        truth = read_truth(truth_file) if truth_file.exists() else {}
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            if args.only and args.only not in path.name:
                continue
            read = _boxes(backend, path, args.cache)
            if read is None:
                continue
            lines, spent = read
            if spent:
                total_ocr += spent
                ocr_images += 1
            started = time.perf_counter()
            with Image.open(path) as image:
                today = args.reference_date or capture_date(image) or dt.date.today()
                lines = with_backgrounds(image, lines)  # as the backend does after OCR
            predicted = read_lines(lines, today, model)
            total_parse += time.perf_counter() - started
            if path.name not in truth:
                print(path.name, [s.model_dump(exclude_defaults=True) for s in predicted.shows])
                continue
            score = score_image(path.name, truth[path.name], predicted)
            family = path.stem.split("-", 1)[-1].rstrip("0123456789-")
            by_family[family] = by_family[family].plus(score.counts)
            if args.show_errors and (score.missed or score.spurious):
                print(f"== {path.name} f1={score.counts.f1:.2f}")
                for show in score.missed:
                    print("   missed  ", show.model_dump(exclude_defaults=True, exclude={"confidence"}))
                for show in score.spurious:
                    print("   spurious", show.model_dump(exclude_defaults=True, exclude={"confidence"}))
    overall = Counts()
    for family, counts in sorted(by_family.items()):
        overall = overall.plus(counts)
        print(
            f"{family:16} n={counts.true_shows:4} found={counts.predicted_shows:4} "
            f"F1={counts.f1:.3f} end={counts.end_time_accuracy:.3f} dj={counts.dj_accuracy:.3f}"
        )
    print(
        f"{'ALL':16} n={overall.true_shows:4} found={overall.predicted_shows:4} F1={overall.f1:.3f} "
        f"end={overall.end_time_accuracy:.3f} dj={overall.dj_accuracy:.3f}"
    )
    if ocr_images:
        print(
            f"OCR {ocr_images} images {total_ocr:.1f}s = {ocr_images / total_ocr:.2f} images/s",
            file=sys.stderr,
        )
    print(f"parse total {total_parse:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
