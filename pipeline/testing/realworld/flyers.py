"""Promotional flyers as a karaoke company posts them: busy backgrounds, display fonts, a logo.

Drawn with Pillow at about 1000 px wide, then shrunk to 400-600 px and saved
as JPEG at quality 60-85, as a phone forwards them. The headline ('KARAOKE')
and the night are big, often rotated or on a ribbon; the company's badge ('X's
Karaoke') sits beside the venue, which is in small print above its address.
That badge is a vendor, never the venue. A one-time event carries a date
without a year and an EXIF capture time a few weeks before it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pipeline.schema import Weekday
from pipeline.testing.realworld.phrases import address_line, dj_phrase
from pipeline.testing.realworld.sample import Sample, build_truth
from pipeline.testing.realworld.world import Night, World, sample_nights, spell_range, weekday_of

__all__ = [
    "DISPLAY_FONT_FILES",
    "SMALL_FONT_FILES",
    "background",
    "load_font",
    "paste",
    "random_colour",
    "render_flyer",
    "text_layer",
]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

_FONTS = Path("/usr/share/fonts")
DISPLAY_FONT_FILES: tuple[str, ...] = (
    "opentype/bebas-neue/BebasNeue-Bold.otf",
    "opentype/league-spartan/LeagueSpartan-Black.otf",
    "opentype/lobster/lobster.otf",
    "truetype/comfortaa/Comfortaa-Bold.ttf",
    "opentype/urw-base35/URWBookman-Demi.otf",
    "truetype/lato/Lato-Black.ttf",
    "truetype/dejavu/DejaVuSans-Bold.ttf",
)
SMALL_FONT_FILES: tuple[str, ...] = (
    "truetype/liberation/LiberationSans-Bold.ttf",
    "truetype/lato/Lato-Bold.ttf",
    "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "truetype/dejavu/DejaVuSans-Bold.ttf",
)
_FALLBACK = "truetype/dejavu/DejaVuSans-Bold.ttf"
_WIDTH = 1000


def load_font(relative: str, size: int) -> Font:
    """A font from /usr/share/fonts, falling back to DejaVu (then Pillow's own) when missing."""
    for candidate in (relative, _FALLBACK):
        path = _FONTS / candidate
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def random_colour(rng: random.Random) -> RGB:
    """Any opaque colour."""
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A gradient with shapes, blurred blobs (a photo-like texture) and noise."""
    width, height = size
    top, bottom = random_colour(rng), random_colour(rng)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    draw = ImageDraw.Draw(image, "RGBA")
    kind = rng.choice(("rays", "circles", "blobs", "blobs"))
    centre = (rng.randint(0, width), rng.randint(0, height // 2))
    for step in range(rng.randint(14, 40)):
        colour = (*random_colour(rng), rng.randint(40, 140))
        if kind == "rays":
            angle = step * 2 * math.pi / 30
            far = (centre[0] + 3000 * math.cos(angle), centre[1] + 3000 * math.sin(angle))
            near = (centre[0] + 3000 * math.cos(angle + 0.08), centre[1] + 3000 * math.sin(angle + 0.08))
            draw.polygon([centre, far, near], fill=colour)
        else:
            x, y, r = rng.randint(0, width), rng.randint(0, height), rng.randint(20, 260)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    if kind == "blobs":
        image = image.filter(ImageFilter.GaussianBlur(rng.randint(12, 30)))
    noise = Image.effect_noise(size, rng.randint(20, 60)).convert("RGB")
    return Image.blend(image, noise, rng.uniform(0.05, 0.18))


def text_layer(text: str, font: Font, fill: RGB, stroke: RGB, ribbon: RGB | None = None) -> Image.Image:
    """Text (optionally on a ribbon) on a transparent layer, ready to rotate and paste."""
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=4)
    pad = 24 if ribbon else 6
    size = (int(right - left) + 2 * pad, int(bottom - top) + 2 * pad)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if ribbon:
        draw.rectangle((0, 0, layer.width, layer.height), fill=(*ribbon, 255))
    draw.text((pad - left, pad - top), text, font=font, fill=fill, stroke_width=0 if ribbon else 4,
              stroke_fill=stroke)  # fmt: skip
    return layer


def paste(canvas: Image.Image, layer: Image.Image, centre_x: int, y: int, angle: float = 0.0) -> int:
    """Paste ``layer`` centred at ``centre_x`` from ``y`` (rotated by ``angle``); returns the next y."""
    if angle:
        layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    if layer.width > canvas.width - 20:
        ratio = (canvas.width - 20) / layer.width
        layer = layer.resize((int(layer.width * ratio), int(layer.height * ratio)))
    canvas.paste(layer, (centre_x - layer.width // 2, y), layer)
    return y + layer.height + 10


def _logo(vendor: str, font: Font, colour: RGB) -> Image.Image:
    """A round badge with the company's name inside: 'Mikey's' over 'Karaoke'."""
    lines: list[str] = []
    for word in vendor.split():
        if lines and len(lines[-1]) + len(word) < 10:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    size = 250
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.ellipse((4, 4, size - 4, size - 4), fill=(*colour, 255), outline=(255, 255, 255, 255), width=8)
    for row, line in enumerate(lines):
        draw.text((size // 2, size // 2 + (row - (len(lines) - 1) / 2) * 50), line, font=font,
                  fill=(255, 255, 255), anchor="mm")  # fmt: skip
    return layer


def _flyer_nights(rng: random.Random, world: World) -> tuple[list[Night], str]:
    """The nights of one flyer (one venue) and its day text: weekly, two nights, or a dated event."""
    night = sample_nights(rng, world, 1)[0]
    text = spell_range(rng, night.start, night.end, rng.choice(("short", "compact", "long")))
    night = replace(night, text=text)
    roll = rng.random()
    if roll < 0.25:
        date = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 360))
        dated = replace(night, day=weekday_of(date), date=date)
        return [dated], f"{dated.day.upper()} {date:%b}".upper() + f" {date.day}"
    if roll < 0.45:
        second: Weekday = "saturday" if night.day != "saturday" else "friday"
        pair = [night, replace(night, day=second)]
        return pair, f"{night.day.upper()}S & {second.upper()}S"
    return [night], rng.choice(
        (f"EVERY {night.day.upper()}", f"{night.day.upper()}S", f"{night.day.upper()} NIGHTS")
    )


def render_flyer(rng: random.Random, world: World) -> Sample:
    """One flyer: headline, ribbon or rotated day, time, DJ, logo beside the venue and address."""
    nights, day_text = _flyer_nights(rng, world)
    night, vendor = nights[0], rng.choice(world.vendors)
    height = rng.choice((1250, 1300, 1400))
    canvas = background(rng, (_WIDTH, height + 400)).convert("RGBA")  # cropped to the content below
    display = rng.choice(DISPLAY_FONT_FILES)
    white, black, accent = (255, 255, 255), (10, 10, 10), random_colour(rng)
    y = rng.randint(30, 80)
    headline = rng.choice(("KARAOKE", "KARAOKE NIGHT", "Karaoke!", "SING!"))
    y = paste(canvas, text_layer(headline, load_font(display, 170), white, black), 500, y, rng.uniform(-8, 8))
    ribbon = accent if rng.random() < 0.5 else None
    y = paste(canvas, text_layer(day_text, load_font(display, 90), white, black, ribbon), 500, y + 10,
               rng.choice((0.0, 0.0, rng.uniform(-6, 6))))  # fmt: skip
    y = paste(canvas, text_layer(night.text or "", load_font(display, 110), white, black), 500, y + 10)
    if night.dj:
        dj_font = load_font(rng.choice(SMALL_FONT_FILES), 64)
        y = paste(canvas, text_layer(dj_phrase(rng, night.dj), dj_font, white, black), 500, y + 10)
    if rng.random() < 0.35:  # the company named in words too: a vendor, not the DJ or the venue
        presented = text_layer(
            f"Presented by {vendor}", load_font(rng.choice(SMALL_FONT_FILES), 40), white, black
        )
        y = paste(canvas, presented, 500, y + 10)
    bottom = max(y + 20, height - 330)
    words = night.place.name.split()
    if len(words) >= 2 and rng.random() < 0.3:
        end = _split_name_print(rng, canvas, night, vendor, bottom)
    else:
        end = _small_print(rng, canvas, night, vendor, bottom)
    image = canvas.crop((0, 0, canvas.width, max(height, end + 30))).convert("RGB")
    target = rng.randint(400, 600)
    image = image.resize((target, round(image.height * target / image.width)), Image.Resampling.LANCZOS)
    captured = None
    if night.date is not None:
        taken = dt.datetime.combine(night.date, dt.time(rng.randint(9, 21), rng.randint(0, 59)))
        captured = f"{taken - dt.timedelta(days=rng.randint(3, 30)):%Y:%m:%d %H:%M:%S}"
    truth = build_truth(nights, vendor=vendor, addressed={night.place.name})
    return Sample("flyer", truth, image=image, fmt="jpeg", quality=rng.randint(60, 85), captured=captured)


def _small_print(rng: random.Random, canvas: Image.Image, night: Night, vendor: str, y: int) -> int:
    """The logo at one side; the venue name and its address in small print beside it; returns the end y."""
    logo = _logo(vendor, load_font(rng.choice(SMALL_FONT_FILES), 44), random_colour(rng))
    logo_left = rng.random() < 0.5
    logo_x = 40 if logo_left else canvas.width - logo.width - 40
    canvas.paste(logo, (logo_x, y), logo)
    text_x = logo.width + 80 if logo_left else 40
    draw = ImageDraw.Draw(canvas)
    place = night.place
    name = place.name.upper() if rng.random() < 0.5 else place.name
    name_file, size = rng.choice(SMALL_FONT_FILES), rng.choice((46, 52, 58))
    room = canvas.width - text_x - 30 - (0 if logo_left else logo.width + 40)
    while size > 24 and draw.textlength(name, font=load_font(name_file, size)) > room:
        size -= 4
    name_font = load_font(name_file, size)
    small = load_font(rng.choice(SMALL_FONT_FILES), rng.choice((30, 34)))
    draw.text((text_x, y + 40), name, font=name_font,
              fill=(255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0))  # fmt: skip
    street, rest = address_line(place).split(", ", 1)
    for row, line in enumerate((street, rest, place.phone)):
        draw.text((text_x, y + 110 + row * 42), line, font=small, fill=(255, 255, 255), stroke_width=2,
                  stroke_fill=(0, 0, 0))  # fmt: skip
    return y + max(logo.height, 110 + 3 * 42)


def _split_name_print(rng: random.Random, canvas: Image.Image, night: Night, vendor: str, y: int) -> int:
    """The venue's name split around the logo ('SAND BAR' [logo] 'STATION'), the address centred below."""
    logo = _logo(vendor, load_font(rng.choice(SMALL_FONT_FILES), 44), random_colour(rng))
    centre = canvas.width // 2
    canvas.paste(logo, (centre - logo.width // 2, y), logo)
    words = night.place.name.upper().split()
    half = (len(words) + 1) // 2
    font = load_font(rng.choice(SMALL_FONT_FILES), 46)
    draw = ImageDraw.Draw(canvas)
    left, right = " ".join(words[:half]), " ".join(words[half:])
    _outlined(draw, (centre - logo.width // 2 - 20, y + logo.height // 2), left, font, "rm")
    _outlined(draw, (centre + logo.width // 2 + 20, y + logo.height // 2), right, font, "lm")
    small = load_font(rng.choice(SMALL_FONT_FILES), 32)
    draw.text((centre, y + logo.height + 30), address_line(night.place), font=small, anchor="mm",
              fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    return y + logo.height + 50


def _outlined(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font: Font, anchor: str) -> None:
    """White text with a black outline, legible on any background."""
    draw.text(xy, text, font=font, anchor=anchor, fill=(255, 255, 255), stroke_width=3, stroke_fill=(0, 0, 0))
