"""The five screenshot layouts: lines, table, flyer, trap and social.

Each layout is a function ``(rng) -> (image, truth)``: it picks its content
from :mod:`pipeline.testing.screenshot_content`, decides what it draws (an
address column, a vendor line) and builds the truth from exactly that.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from PIL import Image, ImageDraw

from pipeline.schema import ParsedSchedule
from pipeline.testing.screenshot_content import (
    TITLES,
    VENDORS,
    ShowSpec,
    build_truth,
    dj_text,
    karaoke_line,
    pick_shows,
    pick_trap_lines,
)
from pipeline.testing.screenshot_draw import (
    FLYER_THEMES,
    LIGHT_THEMES,
    MIN_TEXT_PX,
    Font,
    Style,
    TextLine,
    draw_stack,
    line_height,
    pick_style,
    shrink_to_fit,
    stack_height,
    stack_image,
    text_width,
    wrap_all,
)

Rendered = tuple[Image.Image, ParsedSchedule]
MAX_WIDTH = 1400
PHONE_WIDTH = 600
TABLE_PAD = 14


def fitted_width(rng: random.Random, widest: int, margin: int) -> int:
    """A random width in 700-1400 px, widened (up to 1400) so the widest line fits."""
    return min(MAX_WIDTH, max(rng.randint(700, 1100), widest + 2 * margin))


def render_lines(rng: random.Random) -> Rendered:
    """One show per line under a title, sometimes with a vendor credit."""
    style = pick_style(rng)
    theme = style.theme
    shows = pick_shows(rng, rng.randint(3, 6))
    vendor = rng.choice(VENDORS) if rng.random() < 0.4 else None
    body = [karaoke_line(rng, show) for show in shows]
    margin = rng.randint(30, 50)
    size = shrink_to_fit(style, body, rng.randint(24, 30), MAX_WIDTH - 2 * margin, bold=False)
    font = style.font(size)
    lines = [TextLine(rng.choice(TITLES), style.font(size + 14, bold=True), theme.accent)]
    if vendor:
        lines.append(TextLine(f"Karaoke by {vendor}", style.font(size), theme.muted))
    lines[-1] = replace(lines[-1], space_after=28)
    lines += [TextLine(text, font, theme.fg, space_after=rng.randint(12, 22)) for text in body]
    widest = max(text_width(line.font, line.text) for line in lines)
    image = stack_image(lines, fitted_width(rng, widest, margin), theme, margin)
    return image, build_truth(shows, vendor)


def table_cells(rng: random.Random, show: ShowSpec, with_address: bool) -> list[str]:
    """The cells of one table row."""
    dj = dj_text(rng, show.dj, allow_with=False) if show.dj else ""
    if show.dj and rng.random() < 0.3:
        dj = show.dj
    cells = [show.day.text, show.name, show.time.text, dj]
    return [*cells, show.venue.address_text] if with_address else cells


def column_widths(rows: list[list[str]], header: Font, body: Font, pad: int) -> list[int]:
    """Each column's width: its widest cell plus padding on both sides."""
    fonts = [header] + [body] * (len(rows) - 1)
    return [
        max(text_width(font, row[col]) for font, row in zip(fonts, rows, strict=True)) + 2 * pad
        for col in range(len(rows[0]))
    ]


TableFit = tuple[list[list[str]], list[int], int, bool]


def fit_table(
    rng: random.Random, style: Style, shows: list[ShowSpec], with_address: bool, budget: int
) -> TableFit:
    """Rows, column widths and the largest font size (>= the minimum) that fits ``budget``."""
    header = ["Day", "Venue", "Time", "DJ"] + (["Address"] if with_address else [])
    rows = [header] + [table_cells(rng, show, with_address) for show in shows]
    pad = TABLE_PAD
    size = rng.randint(24, 28)
    widths = column_widths(rows, style.font(size, bold=True), style.font(size), pad)
    while sum(widths) > budget and size > MIN_TEXT_PX:
        size -= 1
        widths = column_widths(rows, style.font(size, bold=True), style.font(size), pad)
    return rows, widths, size, sum(widths) <= budget


def render_table(rng: random.Random) -> Rendered:
    """A header row and 3-6 aligned rows, with grid lines or zebra stripes."""
    style = pick_style(rng)
    shows = pick_shows(rng, rng.randint(3, 6))
    margin = rng.randint(24, 40)
    with_address = rng.random() < 0.4
    rows, widths, size, fits = fit_table(rng, style, shows, with_address, MAX_WIDTH - 2 * margin)
    if with_address and not fits:  # too wide: drop the address column
        with_address = False
        rows, widths, size, _ = fit_table(rng, style, shows, False, MAX_WIDTH - 2 * margin)
    shows = [replace(show, address_shown=with_address) for show in shows]
    image = draw_table(rng, style, rows, widths, size, margin)
    return image, build_truth(shows)


def draw_table(
    rng: random.Random,
    style: Style,
    rows: list[list[str]],
    widths: list[int],
    size: int,
    margin: int,
) -> Image.Image:
    """Draw the table: a coloured header band, then rows with grid or stripes."""
    theme, pad = style.theme, TABLE_PAD
    header_font, body_font = style.font(size, bold=True), style.font(size)
    row_h = line_height(body_font) + 2 * pad
    width = max(rng.randint(700, 1000), sum(widths) + 2 * margin)
    image = Image.new("RGB", (width, row_h * len(rows) + 2 * margin), theme.bg)
    draw = ImageDraw.Draw(image)
    grid, zebra = rng.random() < 0.5, rng.random() < 0.5
    for index, row in enumerate(rows):
        top = margin + index * row_h
        right = margin + sum(widths)
        if index == 0:
            draw.rectangle((margin, top, right, top + row_h), fill=theme.accent)
        elif zebra and index % 2 == 0:
            draw.rectangle((margin, top, right, top + row_h), fill=theme.stripe)
        left = margin
        for cell, col_width in zip(row, widths, strict=True):
            fill = theme.accent_fg if index == 0 else theme.fg
            font = header_font if index == 0 else body_font
            draw.text((left + pad, top + pad), cell, font=font, fill=fill)
            if grid:
                draw.rectangle((left, top, left + col_width, top + row_h), outline=theme.grid)
            left += col_width
    return image


def flyer_block(rng: random.Random, style: Style, show: ShowSpec, size: int) -> list[TextLine]:
    """The centred lines for one show: day, time, venue, DJ and maybe the address."""
    theme = style.theme
    lines = [
        TextLine(show.day.text.upper(), style.font(size + 10, bold=True), theme.accent, True),
        TextLine(show.time.text, style.font(size + 2, bold=True), theme.fg, True),
        TextLine(show.name, style.font(size, bold=True), theme.fg, True),
    ]
    if show.dj:
        lines.append(TextLine(dj_text(rng, show.dj), style.font(size - 2), theme.fg, True))
    if show.address_shown:
        lines.append(TextLine(show.venue.address_text, style.font(size - 6), theme.muted, True))
    lines[-1] = replace(lines[-1], space_after=44)
    return lines


def render_flyer(rng: random.Random) -> Rendered:
    """1-3 blocks of big centred lines on a coloured background."""
    style = pick_style(rng, FLYER_THEMES)
    theme = style.theme
    phone = rng.random() < 0.3
    shows = [replace(s, address_shown=rng.random() < 0.6) for s in pick_shows(rng, rng.randint(1, 3))]
    vendor = rng.choice(VENDORS) if rng.random() < 0.35 else None
    size = rng.randint(30, 36) if phone else rng.randint(32, 42)
    headline = rng.choice(("KARAOKE!", "KARAOKE NIGHT", "SING WITH US"))
    lines = [TextLine(headline, style.font(size + 22, bold=True), theme.fg, True, space_after=40)]
    for show in shows:
        lines += flyer_block(rng, style, show, size)
    if vendor:
        lines.append(TextLine(f"Presented by {vendor}", style.font(size - 8), theme.muted, True))
    width = PHONE_WIDTH if phone else rng.randint(760, 1100)
    image = stack_image(lines, width, theme, margin=rng.randint(36, 56))
    ImageDraw.Draw(image).rectangle(
        (10, 10, image.width - 11, image.height - 11), outline=theme.accent, width=4
    )
    return image, build_truth(shows, vendor)


def render_trap(rng: random.Random) -> Rendered:
    """A non-karaoke schedule (trivia, specials, happy hour): the truth has no shows."""
    style = pick_style(rng)
    title, body = pick_trap_lines(rng)
    size = rng.randint(24, 30)
    lines = [TextLine(title, style.font(size + 12, bold=True), style.theme.accent, space_after=26)]
    lines += [TextLine(text, style.font(size), style.theme.fg, space_after=16) for text in body]
    margin = rng.randint(30, 50)
    widest = max(text_width(line.font, line.text) for line in lines)
    image = stack_image(lines, fitted_width(rng, widest, margin), style.theme, margin)
    return image, ParsedSchedule()


SOCIAL_PAGES = ("Columbus Karaoke Scene", "Ohio Karaoke Lovers", "Singers of Central Ohio")
SOCIAL_INTROS = ("Where to sing this week:", "Karaoke this week! Come sing with us",
                 "Grab your friends and come sing!")  # fmt: skip


def render_social(rng: random.Random) -> Rendered:
    """A phone screenshot of a social post whose caption lists 1-3 karaoke nights."""
    style = pick_style(rng, None if rng.random() < 0.5 else LIGHT_THEMES)
    theme = style.theme
    width = PHONE_WIDTH if rng.random() < 0.5 else rng.randint(700, 800)
    shows = pick_shows(rng, rng.randint(1, 3))
    size, margin = rng.randint(24, 27), 28
    caption = [TextLine(rng.choice(SOCIAL_INTROS), style.font(size), theme.fg, space_after=18)]
    caption += [TextLine(karaoke_line(rng, show), style.font(size), theme.fg) for show in shows]
    caption.append(TextLine("#karaoke #columbus", style.font(size), theme.accent, space_after=24))
    caption = wrap_all(caption, width - 2 * margin)
    header_h, footer_h = 170, 130
    image = Image.new("RGB", (width, header_h + stack_height(caption) + footer_h), theme.bg)
    draw = ImageDraw.Draw(image)
    draw_social_header(rng, draw, style, width, margin)
    bottom = draw_stack(draw, caption, margin, header_h, width - 2 * margin)
    draw_social_footer(rng, draw, style, width, margin, bottom)
    return image, build_truth(shows)


def draw_social_header(
    rng: random.Random, draw: ImageDraw.ImageDraw, style: Style, width: int, margin: int
) -> None:
    """Status bar (clock 9:41, battery) and the page name with a post timestamp."""
    theme, small = style.theme, style.font(MIN_TEXT_PX, bold=True)
    draw.text((margin, 12), "9:41", font=small, fill=theme.fg)
    battery = f"5G  {rng.randint(20, 99)}%"
    draw.text((width - margin - text_width(small, battery), 12), battery, font=small, fill=theme.fg)
    draw.line((0, 52, width, 52), fill=theme.grid, width=1)
    draw.ellipse((margin, 70, margin + 70, 140), fill=theme.accent)
    draw.text((margin + 86, 70), rng.choice(SOCIAL_PAGES), font=style.font(25, bold=True), fill=theme.fg)
    stamp = f"Yesterday at {rng.randint(1, 11)}:{rng.randint(0, 59):02d} PM"
    draw.text((margin + 86, 106), stamp, font=style.font(MIN_TEXT_PX), fill=theme.muted)


def draw_social_footer(
    rng: random.Random, draw: ImageDraw.ImageDraw, style: Style, width: int, margin: int, top: int
) -> None:
    """The reaction counts and the Like / Comment / Share bar."""
    theme, font = style.theme, style.font(MIN_TEXT_PX)
    counts = f"Likes {rng.randint(3, 90)}    {rng.randint(1, 20)} comments"
    draw.text((margin, top + 8), counts, font=font, fill=theme.muted)
    draw.line((margin, top + 50, width - margin, top + 50), fill=theme.grid, width=1)
    for index, label in enumerate(("Like", "Comment", "Share")):
        center = width * (2 * index + 1) // 6
        x = center - text_width(font, label) // 2
        draw.text((x, top + 66), label, font=style.font(MIN_TEXT_PX, bold=True), fill=theme.muted)


LAYOUTS: dict[str, Callable[[random.Random], Rendered]] = {
    "lines": render_lines,
    "table": render_table,
    "flyer": render_flyer,
    "trap": render_trap,
    "social": render_social,
}
