"""Images per second of the local backend (OCR + parse) on a folder, in this process.

Run it once with this tree's code and once with another tree's on PYTHONPATH to
compare; rounds alternate poorly on a shared machine, so take the best round.

    python scripts/ocr_speed.py examples/screenshots [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image

from pipeline.backends.base import LocalOptions
from pipeline.backends.local.engine import LocalBackend


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    backend = LocalBackend(LocalOptions(ocr_threads=1))
    backend.extract(images[0])  # warm the engine
    for index in range(args.rounds):
        started = time.perf_counter()
        for image in images:
            backend.extract(image)
        spent = time.perf_counter() - started
        print(f"round {index + 1}: {len(images)} images in {spent:.1f} s = {len(images) / spent:.3f} images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
