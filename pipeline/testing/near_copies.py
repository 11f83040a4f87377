"""Image pairs for the similar-image cache: near-copies that must hit, look-alikes that must not.

A *near-copy* is one image as it travels: resized (50-200%), re-compressed as
JPEG (quality 40-95), lightly cropped (up to 5% a side), given a phone status
bar or a border, converted PNG <-> JPEG. A *template pair* is two renders of
one generator layout from the same seed, identical but for one venue, day or
time (the text is swapped at draw time, so the layout, fonts and background
stay the same): one company's flyers for two venues, or one week's listing
against the next. A *travelled* look-alike is such a pair's second render after the near-copy
edits (the Wednesday flyer screenshotted and framed, the Tuesday one cached): it must not hit either.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from pipeline.schema import WEEKDAYS

Render = Callable[[], Image.Image]
BUNDLED_DIRS = ("examples/screenshots", "corpus/realworld-test")
KINDS = ("venue", "day", "time")


@dataclass(frozen=True)
class ImagePair:
    """Two encoded images and what tells them apart (``kind``: ``near-copy`` or ``template``)."""

    name: str
    kind: str
    first: bytes
    second: bytes
    change: str


def encode(image: Image.Image, fmt: str = "png", quality: int = 90) -> bytes:
    """PNG or JPEG bytes of ``image``."""
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG")
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# --- near-copies -----------------------------------------------------------------------


def _status_bar(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone's status bar (clock, signal, battery) added on top, 3-5% of the height."""
    height = max(16, round(image.height * rng.uniform(0.03, 0.05)))
    dark = rng.random() < 0.5
    bar = Image.new("RGB", (image.width, height), (0, 0, 0) if dark else (248, 248, 248))
    draw = ImageDraw.Draw(bar)
    ink = (255, 255, 255) if not dark else (230, 230, 230)
    ink = (20, 20, 20) if not dark else ink
    font = ImageFont.load_default(max(10, int(height * 0.6)))
    draw.text((height // 2, height // 2), f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}", font=font,
              fill=ink, anchor="lm")  # fmt: skip
    right = image.width - height // 2
    draw.rectangle((right - height, height // 4, right, height * 3 // 4), outline=ink, width=2)
    out = Image.new("RGB", (image.width, image.height + height))
    out.paste(bar, (0, 0))
    out.paste(image.convert("RGB"), (0, height))
    return out


def _border(image: Image.Image, rng: random.Random) -> Image.Image:
    """A plain frame, 1-3% of the width on every side."""
    pad = max(2, round(image.width * rng.uniform(0.01, 0.03)))
    colour = rng.choice(((255, 255, 255), (0, 0, 0), (230, 230, 230)))
    out = Image.new("RGB", (image.width + 2 * pad, image.height + 2 * pad), colour)
    out.paste(image.convert("RGB"), (pad, pad))
    return out


def _crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Up to 5% off each side (each side its own amount)."""
    w, h = image.size
    box = (
        round(w * rng.uniform(0, 0.05)),
        round(h * rng.uniform(0, 0.05)),
        w - round(w * rng.uniform(0, 0.05)),
        h - round(h * rng.uniform(0, 0.05)),
    )
    return image.crop(box)


def _resize(image: Image.Image, rng: random.Random) -> Image.Image:
    factor = rng.choice((rng.uniform(0.5, 0.9), rng.uniform(1.1, 2.0)))
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, rng.choice((Image.Resampling.BILINEAR, Image.Resampling.LANCZOS)))


EDITS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "resize": _resize,
    "crop": _crop,
    "status-bar": _status_bar,
    "border": _border,
}


def near_copy(image: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    """A copy of ``image`` after 1-3 edits, saved as JPEG (quality 40-95) or PNG; and what was done."""
    edits = rng.sample(sorted(EDITS), rng.randint(1, 3))
    copy = image.convert("RGB")
    for edit in sorted(edits, key=list(EDITS).index):  # resize first, framing last, as a phone does
        copy = EDITS[edit](copy, rng)
    if rng.random() < 0.75:
        quality = rng.randint(40, 95)
        return encode(copy, "jpeg", quality), "+".join([*edits, f"jpeg{quality}"])
    return encode(copy, "png"), "+".join([*edits, "png"])


# --- template pairs --------------------------------------------------------------------

_TIME = re.compile(r"\b(1[0-2]|[1-9])(:[0-5]\d)?\s?(PM|AM|pm|am|P|A|p|a)\b")


@contextmanager
def swapped_text(old: str, new: str) -> Iterator[list[str]]:
    """While open, Pillow measures and draws ``new`` wherever a text has ``old``; yields the texts seen."""
    seen: list[str] = []
    originals: dict[tuple[Any, str], Any] = {}

    def wrap(owner: Any, name: str, position: int) -> None:
        original = getattr(owner, name)
        originals[(owner, name)] = original

        def patched(*args: Any, **kwargs: Any) -> Any:
            args_list = list(args)
            if len(args_list) > position and isinstance(args_list[position], str):
                seen.append(args_list[position])
                if old:
                    args_list[position] = args_list[position].replace(old, new)
            return original(*args_list, **kwargs)

        setattr(owner, name, patched)

    wrap(ImageDraw.ImageDraw, "text", 2)
    wrap(ImageDraw.ImageDraw, "textbbox", 2)
    wrap(ImageDraw.ImageDraw, "textlength", 1)
    wrap(ImageFont.FreeTypeFont, "getbbox", 1)
    wrap(ImageFont.FreeTypeFont, "getlength", 1)
    try:
        yield seen
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


def _shift_hour(match: re.Match[str], rng: random.Random) -> str:
    hour = int(match.group(1))
    other = hour % 12 + 1 if rng.random() < 0.5 else (hour - 2) % 12 + 1
    return f"{other}{match.group(2) or ''}{match.group(0)[len(match.group(1)) + len(match.group(2) or '') :]}"


def _day_swap(text: str, rng: random.Random) -> tuple[str, str] | None:
    for day in WEEKDAYS:
        for spelt in (day.upper(), day.title()):
            if spelt in text:
                other = rng.choice([d for d in WEEKDAYS if d != day])
                return spelt, other.upper() if spelt.isupper() else other.title()
    return None


def pick_swap(texts: list[str], venues: list[str], rng: random.Random, kind: str) -> tuple[str, str] | None:
    """One change of ``kind`` (venue, day or time) that one of ``texts`` allows: (old, new)."""
    joined = [text for text in texts if text.strip()]
    rng.shuffle(joined)
    for text in joined:
        if kind == "time" and (match := _TIME.search(text)):
            return match.group(0), _shift_hour(match, rng)
        if kind == "day" and (swap := _day_swap(text, rng)):
            return swap
        if kind == "venue":
            for venue in venues:
                for spelt in (venue, venue.upper()):
                    if spelt in text:
                        others = [v for v in venues if v != venue and venue not in v and v not in venue]
                        other = rng.choice(others)
                        return spelt, other.upper() if spelt.isupper() else other
    return None


def template_pair(
    name: str, render: Render, venues: list[str], rng: random.Random, kinds: tuple[str, ...]
) -> ImagePair | None:
    """Render twice with one text swapped; None when the render shows nothing of the ``kinds`` asked."""
    with swapped_text("", "") as seen:
        first = render()
    for kind in rng.sample(kinds, len(kinds)):
        swap = pick_swap(seen, venues, rng, kind)
        if swap is None:
            continue
        with swapped_text(*swap):
            second = render()
        if first.size == second.size and first.tobytes() == second.tobytes():
            continue  # the swapped text was measured but never drawn
        fmt = "jpeg" if first.mode == "RGB" and rng.random() < 0.3 else "png"
        return ImagePair(
            name, "template", encode(first, fmt), encode(second, fmt), f"{kind}: {swap[0]} -> {swap[1]}"
        )
    return None


# --- the sets ------------------------------------------------------------------------


def bundled_paths(root: Path) -> list[Path]:
    """The images of the checkout: examples/screenshots and the frozen realistic split."""
    return sorted(
        path
        for folder in BUNDLED_DIRS
        for path in (root / folder).iterdir()
        if path.suffix.lower() in (".png", ".jpg", ".jpeg")
    )


def decoded(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def synthetic_renders(seed: int, count: int) -> list[tuple[str, Render, list[str]]]:
    """``count`` deterministic renders: the screenshot layouts and realistic flyers, in turn."""
    from pipeline.testing.realworld.flyers import render_flyer
    from pipeline.testing.realworld.world import pool_for
    from pipeline.testing.screenshot_content import VENUES
    from pipeline.testing.screenshot_layouts_more import LAYOUTS

    layouts = [name for name in LAYOUTS if name not in ("trap", "photo")] + ["realworld-flyer"] * 5
    world = pool_for("dev")
    screenshot_venues = sorted({v.name for v in VENUES} | {a for v in VENUES for a in v.aliases})
    flyer_venues = [place.name for place in world.places]
    renders: list[tuple[str, Render, list[str]]] = []
    for index in range(count):
        layout = layouts[index % len(layouts)]
        key = f"near-copies:{seed}:{index}"
        if layout == "realworld-flyer":

            def render(key: str = key) -> Image.Image:
                sample = render_flyer(random.Random(key), world)
                assert sample.image is not None
                return sample.image

            renders.append((f"{index:03d}-flyer", render, flyer_venues))
        else:

            def render_layout(key: str = key, layout: str = layout) -> Image.Image:
                return LAYOUTS[layout](random.Random(key))[0]

            renders.append((f"{index:03d}-{layout}", render_layout, screenshot_venues))
    return renders


def build_pairs(root: Path, *, seed: int, synthetic: int, bundled: int) -> list[ImagePair]:
    """Near-copies of ``bundled`` images of the checkout and of ``synthetic`` renders, and a
    template pair of each render that allows one (a venue, day or time it can swap)."""
    rng = random.Random(f"near-copies:{seed}")
    pairs: list[ImagePair] = []
    paths = bundled_paths(root)
    for path in rng.sample(paths, min(bundled, len(paths))):
        image = decoded(path)
        copy, how = near_copy(image, rng)
        pairs.append(ImagePair(path.name, "near-copy", encode(image, "png"), copy, how))
    renders = synthetic_renders(seed, 2 * synthetic)  # one for a near-copy, the next for a template pair
    for (name, render, _), (other, other_render, venues) in zip(renders[::2], renders[1::2], strict=True):
        image = render()
        copy, how = near_copy(image, rng)
        pairs.append(ImagePair(name, "near-copy", encode(image, "png"), copy, how))
        pair = template_pair(other, other_render, venues, rng, KINDS)
        if pair is not None:
            pairs.append(pair)
    return pairs


def travelled(pairs: list[ImagePair], seed: int) -> list[ImagePair]:
    """Each template pair's second render as it travels: ``first`` is the other night's flyer, and
    ``second`` a near-copy of this one (resized, cropped, framed, re-compressed)."""
    rng = random.Random(f"travelled:{seed}")
    found = []
    for pair in pairs:
        if pair.kind == "template":
            with Image.open(io.BytesIO(pair.second)) as image:
                copy, how = near_copy(image.convert("RGB"), rng)
            found.append(ImagePair(pair.name, "travelled", pair.first, copy, f"{pair.change}, then {how}"))
    return found


def report(root: Path, seed: int, synthetic: int, bundled: int) -> str:
    """Hit rate and false hits of one set through one cache, as the test measures them."""
    import hashlib
    import tempfile
    import time

    from pipeline.cache import ResultCache, cache_key
    from pipeline.schema import ParsedSchedule

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    pairs = build_pairs(root, seed=seed, synthetic=synthetic, bundled=bundled)
    pairs += travelled(pairs, seed)
    with tempfile.TemporaryDirectory() as folder:
        cache = ResultCache(Path(folder) / "cache.sqlite3")
        started = time.process_time()
        firsts = [pair for pair in pairs if pair.kind != "travelled"]  # travelled share their firsts
        for pair in firsts:
            cache.put(cache_key(sha(pair.first), "id"), sha(pair.first), ParsedSchedule(), pair.first)
        put_ms = (time.process_time() - started) * 1000 / len(firsts)
        lines, hits, started = [], 0, time.process_time()
        false_hits = {"template": 0, "travelled": 0}
        for pair in pairs:
            hit = cache.lookup(sha(pair.second), pair.second, "id")
            similar = hit.similar_to if hit is not None else None
            if pair.kind == "near-copy":
                hits += similar == sha(pair.first)
                if similar != sha(pair.first):
                    lines.append(f"  missed {pair.name}: {pair.change} (hit {similar})")
            elif similar is not None:
                false_hits[pair.kind] += 1
                lines.append(f"  FALSE HIT ({pair.kind}) {pair.name}: {pair.change}")
        lookup_ms = (time.process_time() - started) * 1000 / len(pairs)
        cache.close()
    near = sum(pair.kind == "near-copy" for pair in pairs)
    templates = sum(pair.kind == "template" for pair in pairs)
    head = (
        f"seed {seed}: near-copies {hits}/{near} hit ({100 * hits / near:.1f}%), "
        f"same-template pairs {false_hits['template']}/{templates} false hits, "
        f"travelled look-alikes {false_hits['travelled']}/{templates}; "
        f"fingerprint+put {put_ms:.0f} ms, lookup {lookup_ms:.0f} ms CPU per image"
    )
    return "\n".join([head, *lines])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="measure the similar-image cache on one seed's pairs")
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="4 is the held-out set of tests/test_similar.py; docs/caching.md names the tuning seeds",
    )
    parser.add_argument("--synthetic", type=int, default=56)
    parser.add_argument("--bundled", type=int, default=30)
    args = parser.parse_args()
    print(report(Path.cwd(), args.seed, args.synthetic, args.bundled))
