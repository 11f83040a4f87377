"""Drawing helpers for the synthetic screenshots: fonts, themes, stacked text.

Text is never smaller than ``MIN_TEXT_PX`` so that OCR reads it back; a line
too wide for its image is first set smaller, then word-wrapped, as a phone
would.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MIN_TEXT_PX = 22

# family -> (regular, bold) file names
FAMILIES: dict[str, tuple[str, str]] = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
}


@functools.lru_cache(maxsize=256)
def load_font(file_name: str, size: int) -> Font:
    """A DejaVu font at ``size`` px, or Pillow's built-in font when DejaVu is missing."""
    path = FONT_DIR / file_name
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class Theme:
    """Colours of one screenshot; ``accent_fg`` is text drawn on ``accent``."""

    name: str
    bg: RGB
    fg: RGB
    muted: RGB
    accent: RGB
    accent_fg: RGB
    stripe: RGB
    grid: RGB


# Theme(name, bg, fg, muted, accent, accent_fg, stripe, grid)
LIGHT_THEMES: tuple[Theme, ...] = (
    Theme("light", (255, 255, 255), (20, 20, 20), (90, 90, 90), (30, 80, 160), (255, 255, 255),
          (236, 240, 248), (170, 170, 170)),
    Theme("cream", (252, 246, 232), (40, 30, 20), (100, 85, 70), (150, 40, 40), (255, 255, 255),
          (242, 232, 210), (180, 160, 130)),
)  # fmt: skip
DARK_THEMES: tuple[Theme, ...] = (
    Theme("dark", (24, 25, 28), (238, 238, 238), (170, 170, 170), (240, 190, 40), (20, 20, 20),
          (40, 42, 48), (90, 90, 95)),
    Theme("midnight", (16, 22, 48), (245, 245, 250), (175, 180, 205), (230, 80, 150),
          (255, 255, 255), (30, 38, 72), (80, 90, 130)),
)  # fmt: skip
# Flyers: saturated backgrounds with high-contrast text.
FLYER_THEMES: tuple[Theme, ...] = (
    Theme("purple", (60, 20, 100), (255, 255, 255), (225, 210, 245), (255, 215, 60), (30, 10, 50),
          (80, 35, 125), (120, 80, 160)),
    Theme("red", (170, 25, 35), (255, 255, 255), (255, 225, 225), (255, 230, 120), (60, 10, 10),
          (190, 45, 55), (220, 120, 120)),
    Theme("yellow", (255, 214, 50), (20, 20, 20), (70, 55, 10), (150, 20, 60), (255, 255, 255),
          (245, 200, 40), (190, 150, 20)),
    Theme("navy", (15, 35, 80), (255, 255, 255), (200, 215, 240), (90, 220, 255), (10, 20, 40),
          (25, 50, 105), (80, 100, 150)),
)  # fmt: skip


@dataclass(frozen=True)
class Style:
    """A theme plus a font family."""

    theme: Theme
    family: str

    def font(self, size: int, *, bold: bool = False) -> Font:
        """This style's regular or bold font at ``size`` px (never below the minimum)."""
        regular, bold_file = FAMILIES[self.family]
        return load_font(bold_file if bold else regular, max(size, MIN_TEXT_PX))


def pick_style(rng: random.Random, themes: Sequence[Theme] | None = None) -> Style:
    """A random light or dark theme (or one of ``themes``) and font family."""
    pool = themes or (LIGHT_THEMES if rng.random() < 0.55 else DARK_THEMES)
    return Style(theme=rng.choice(pool), family=rng.choice(tuple(FAMILIES)))


def text_width(font: Font, text: str) -> int:
    """Rendered width of ``text`` in pixels."""
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def line_height(font: Font) -> int:
    """Ascent plus descent of ``font``."""
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return ascent + descent
    _, top, _, bottom = font.getbbox("Ag")
    return int(bottom - top)


@dataclass(frozen=True)
class TextLine:
    """One line of a vertical stack of text."""

    text: str
    font: Font
    fill: RGB
    center: bool = False
    space_after: int = 10

    @property
    def height(self) -> int:
        return line_height(self.font) + self.space_after


def shrink_to_fit(style: Style, texts: Sequence[str], size: int, width: int, *, bold: bool) -> int:
    """The largest font size <= ``size`` (and >= the minimum) at which all ``texts`` fit."""
    while size > MIN_TEXT_PX:
        font = style.font(size, bold=bold)
        if all(text_width(font, text) <= width for text in texts):
            break
        size -= 1
    return size


def wrap(line: TextLine, width: int) -> list[TextLine]:
    """Word-wrap ``line`` into lines no wider than ``width`` (a long word stays whole)."""
    words = line.text.split(" ")
    rows: list[str] = []
    for word in words:
        candidate = f"{rows[-1]} {word}" if rows else word
        if rows and text_width(line.font, candidate) <= width:
            rows[-1] = candidate
        else:
            rows.append(word)
    if len(rows) == 1:
        return [line]
    tight = [replace(line, text=row, space_after=4) for row in rows[:-1]]
    return [*tight, replace(line, text=rows[-1])]


def wrap_all(lines: Sequence[TextLine], width: int) -> list[TextLine]:
    """Wrap every line that is wider than ``width``."""
    out: list[TextLine] = []
    for line in lines:
        out.extend(wrap(line, width) if text_width(line.font, line.text) > width else [line])
    return out


def stack_height(lines: Sequence[TextLine]) -> int:
    """Total height of a stack of lines, spacing included."""
    return sum(line.height for line in lines)


def draw_stack(draw: ImageDraw.ImageDraw, lines: Sequence[TextLine], x: int, y: int, width: int) -> int:
    """Draw lines top to bottom from ``(x, y)``; returns the y below the last line."""
    for line in lines:
        left = x + (width - text_width(line.font, line.text)) // 2 if line.center else x
        draw.text((left, y), line.text, font=line.font, fill=line.fill)
        y += line.height
    return y


def stack_image(lines: Sequence[TextLine], width: int, theme: Theme, margin: int) -> Image.Image:
    """A whole image of stacked (wrapped) lines on the theme background."""
    inner = width - 2 * margin
    wrapped = wrap_all(lines, inner)
    image = Image.new("RGB", (width, stack_height(wrapped) + 2 * margin), theme.bg)
    draw_stack(ImageDraw.Draw(image), wrapped, margin, margin, inner)
    return image
