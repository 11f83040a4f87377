"""``logo-flyer``: a company's flyer where its brand and tagline outweigh the venue.

Drawn like ``flyers`` (busy background, display fonts, shrunk JPEG), but the
largest text is the karaoke company's name (a logo word mark, often on a
ribbon) and its slogan; the night and host come next, and the venue is in small
print over its street and city at the bottom. The brand is the vendor, the
slogan is nobody, the venue is the small line over the address. A family outside
the rotation (``EXTRA_FAMILIES``).
"""

from __future__ import annotations

import random
from dataclasses import replace

from PIL import Image, ImageDraw

from pipeline.testing.realworld.chrome import TAGLINES
from pipeline.testing.realworld.flyers import (
    DISPLAY_FONT_FILES,
    SMALL_FONT_FILES,
    background,
    load_font,
    paste,
    random_colour,
    text_layer,
)
from pipeline.testing.realworld.phrases import day_label, dj_phrase
from pipeline.testing.realworld.sample import Sample, build_truth
from pipeline.testing.realworld.world import Place, World, sample_nights, spell_range

__all__ = ["render_logo_flyer"]

_WIDTH = 1000
_WHITE, _BLACK = (255, 255, 255), (10, 10, 10)


def _brand_mark(rng: random.Random, vendor: str) -> Image.Image:
    """The company's name as a word mark, far larger than anything else on the flyer."""
    text = vendor.upper() if rng.random() < 0.6 else vendor
    ribbon = random_colour(rng) if rng.random() < 0.4 else None
    return text_layer(text, load_font(rng.choice(DISPLAY_FONT_FILES), 150), _WHITE, _BLACK, ribbon)


def render_logo_flyer(rng: random.Random, world: World) -> Sample:
    """Brand and tagline big at the top, then the night, then the venue in small print with its address."""
    night = sample_nights(rng, world, 1)[0]
    night = replace(night, text=spell_range(rng, night.start, night.end))
    vendor = rng.choice(world.vendors)
    height = rng.choice((1200, 1300, 1400))
    canvas = background(rng, (_WIDTH, height + 400)).convert("RGBA")
    display = rng.choice(DISPLAY_FONT_FILES)
    tilt = rng.choice((0.0, rng.uniform(-5, 5)))
    y = paste(canvas, _brand_mark(rng, vendor), 500, rng.randint(30, 70), tilt)
    tagline = rng.choice((*TAGLINES, "The Best Karaoke in Town", "Live Karaoke Every Week"))
    y = paste(canvas, text_layer(tagline, load_font(display, rng.choice((80, 90, 100))), _WHITE, _BLACK), 500,
              y + 10)  # fmt: skip
    day_text = day_label(rng, night.day).upper()
    y = paste(canvas, text_layer(day_text, load_font(display, 84), _WHITE, _BLACK), 500, y + 30)
    y = paste(canvas, text_layer(night.text or "", load_font(display, 84), _WHITE, _BLACK), 500, y + 6)
    if night.dj:
        dj_font = load_font(rng.choice(SMALL_FONT_FILES), 56)
        y = paste(canvas, text_layer(dj_phrase(rng, night.dj), dj_font, _WHITE, _BLACK), 500, y + 10)
    end = _venue_print(rng, canvas, night.place, max(y + 40, height - 260))
    image = canvas.crop((0, 0, canvas.width, max(height, end + 30))).convert("RGB")
    target = rng.randint(420, 600)
    image = image.resize((target, round(image.height * target / image.width)), Image.Resampling.LANCZOS)
    truth = build_truth([night], vendor=vendor, addressed={night.place.name})
    return Sample("logo-flyer", truth, image=image, fmt="jpeg", quality=rng.randint(60, 85))


def _venue_print(rng: random.Random, canvas: Image.Image, place: Place, y: int) -> int:
    """The venue's name in small print (a little larger than its address), centred, over street and city."""
    draw = ImageDraw.Draw(canvas)
    name = place.name.upper() if rng.random() < 0.5 else place.name
    lead = rng.choice(("", "", "LIVE AT ", "at "))
    name_font = load_font(rng.choice(SMALL_FONT_FILES), rng.choice((40, 44, 48)))
    small = load_font(rng.choice(SMALL_FONT_FILES), rng.choice((30, 32)))
    city = f"{place.city}, {place.state} {place.zip}"
    lines = [(f"{lead}{name}", name_font), (place.street, small), (city, small)]
    for text, font in lines:
        draw.text((_WIDTH // 2, y), text, font=font, anchor="mt", fill=_WHITE, stroke_width=3,
                  stroke_fill=_BLACK)  # fmt: skip
        y += 56 if font is name_font else 42
    return y
