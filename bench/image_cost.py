"""``python -m bench.image_cost``: worker CPU per image on the way to Gemini, before and after.

What a Gemini worker does with an image before the request leaves: sniff,
validate, read size and orientation, and produce the bytes to send. The network
and the model are not in it. Two paths, on the same images, in one run:

- ``re-encode``: the old hand-off, ``decode_image`` (full decode, EXIF
  transpose, RGB) then ``encode_image`` (downscale if needed, re-encode);
- ``as sent``: ``open_image`` and the Gemini backend's ``image_part_bytes``:
  original bytes when nothing must change, else decode + resize + encode.

Each number is the median ``time.process_time`` of a few runs, per image, in
this process (one core). Images are drawn here: text rows on a flat background,
the way screenshots compress. ``--corpus DIR`` also runs every image of a folder
(e.g. ``corpus/realworld-test``) and prints the medians and how many went untouched.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from pipeline.backends.gemini.backend import encode_image, image_part_bytes
from pipeline.images import ImagePayload, decode_image, find_images, open_image, read_bytes, read_path
from pipeline.testing.screenshot_draw import load_font

MAX_PIXELS, MAX_BYTES, MAX_SIDE = 40_000_000, 10 * 1024 * 1024, 3000
RESULT_NAME = "image_cost.txt"


@dataclass(frozen=True)
class ImageKind:
    """One kind of input image: its size and file type."""

    name: str
    size: tuple[int, int]
    image_format: str
    photo: bool = True  # a photo-like block (a flyer, an avatar), which PNG compresses poorly


KINDS: tuple[ImageKind, ...] = (
    ImageKind("1000x700 PNG (text only)", (1000, 700), "PNG", photo=False),
    ImageKind("1170x2532 phone PNG", (1170, 2532), "PNG"),
    ImageKind("1170x2532 phone JPEG q85", (1170, 2532), "JPEG"),
    ImageKind("1280x6000 full-page PNG", (1280, 6000), "PNG"),
)


def draw_screenshot(kind: ImageKind, seed: int = 13) -> bytes:
    """A screenshot-like image: rows of text, coloured bars and a photo-like block (a flyer, an avatar)."""
    rng = random.Random(seed)
    image = Image.new("RGB", kind.size, (250, 250, 252))
    if kind.photo:
        photo_size = (kind.size[0], kind.size[1] // 4)
        noise = [
            Image.effect_noise(photo_size, 40 + 20 * band).filter(ImageFilter.GaussianBlur(2))
            for band in range(3)
        ]
        image.paste(Image.merge("RGB", noise), (0, kind.size[1] // 3))
    draw = ImageDraw.Draw(image)
    font = load_font("DejaVuSans.ttf", 30)
    words = [
        "karaoke",
        "night",
        "tavern",
        "lounge",
        "monday",
        "friday",
        "9pm",
        "close",
        "dj",
        "host",
        "pub",
        "grill",
    ]
    y = 20
    while y < kind.size[1] - 40:
        if rng.random() < 0.12:
            draw.rectangle((0, y, kind.size[0], y + 60), fill=(30, 80, 160))
            y += 70
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).title()
        draw.text((24, y), text, fill=(20, 20, 20), font=font)
        y += 44
    buffer = io.BytesIO()
    options = {"quality": 85} if kind.image_format == "JPEG" else {"optimize": True}
    image.save(buffer, format=kind.image_format, **options)
    return buffer.getvalue()


def re_encode_path(payload: ImagePayload) -> bytes:
    """The old hand-off: decode fully, then re-encode in the source type."""
    decoded = decode_image(payload, max_pixels=MAX_PIXELS)
    decoded.image.info["mime_type"] = decoded.mime_type
    return encode_image(decoded.image, MAX_SIDE)[0]


def as_sent_path(payload: ImagePayload) -> bytes:
    """The new hand-off: header, integrity check, original bytes unless something must change."""
    return image_part_bytes(open_image(payload, max_pixels=MAX_PIXELS), MAX_SIDE)[0]


def cpu_ms(path: Callable[[ImagePayload], bytes], payload: ImagePayload, repeats: int) -> tuple[float, int]:
    """Median CPU milliseconds of one call, and the size of the bytes it produced."""
    times: list[float] = []
    sent = b""
    for _ in range(repeats):
        started = time.process_time()
        sent = path(payload)
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times), len(sent)


def measure(repeats: int = 5) -> list[str]:
    """One line per image kind: CPU ms and bytes sent, before and after."""
    header = f"{'image':28} {'re-encode ms':>13} {'as sent ms':>11} {'in KB':>8} {'re-encoded KB':>14}"
    lines = [f"{header} {'sent KB':>8}"]
    for kind in KINDS:
        data = draw_screenshot(kind)
        payload = read_bytes(data, 0, max_bytes=MAX_BYTES, source=kind.name)
        before_ms, before_bytes = cpu_ms(re_encode_path, payload, repeats)
        after_ms, after_bytes = cpu_ms(as_sent_path, payload, repeats)
        lines.append(
            f"{kind.name:28} {before_ms:13.1f} {after_ms:11.2f} {len(data) / 1000:8.0f}"
            f" {before_bytes / 1000:14.0f} {after_bytes / 1000:8.0f}"
        )
    return lines


def measure_corpus(folder: Path, repeats: int = 3) -> str:
    """Medians over every image of a folder, and how many were sent as they came."""
    before: list[float] = []
    after: list[float] = []
    untouched = 0
    for path in find_images([folder]):
        payload = read_path(path, 0, max_bytes=MAX_BYTES)
        before.append(cpu_ms(re_encode_path, payload, repeats)[0])
        after.append(cpu_ms(as_sent_path, payload, repeats)[0])
        untouched += as_sent_path(payload) == payload.data
    return (
        f"{folder}: {len(after)} images, median CPU re-encode {statistics.median(before):.1f} ms,"
        f" as sent {statistics.median(after):.2f} ms; {untouched} sent as they came"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.image_cost", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs per image and path (median)")
    parser.add_argument("--corpus", type=Path, default=None, help="also every image of this folder")
    args = parser.parse_args(argv)
    print("\n".join(measure(args.repeats)))
    if args.corpus is not None:
        print(measure_corpus(args.corpus))
    return 0


if __name__ == "__main__":
    sys.exit(main())
