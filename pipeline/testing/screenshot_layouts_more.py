"""More screenshot layouts: prose, dated and monthly events, grids, stories, photos, phones, traps.

Same contract as :mod:`pipeline.testing.screenshot_layouts`: ``(rng) -> (image,
truth)``, with the truth built from what is drawn. Shows come from the shared
``WORLD`` (so repeats agree across images); one-off and monthly events take a
weekday their venue has no weekly night on, so they never contradict it.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable
from dataclasses import replace

from PIL import Image, ImageDraw, ImageFilter

from pipeline.schema import WEEKDAYS, ParsedSchedule, Weekday
from pipeline.testing.screenshot_content import (
    DJ_NAMES,
    VENUES,
    WORLD,
    DayText,
    ShowSpec,
    TimeText,
    build_truth,
    dj_text,
    karaoke_line,
    pick_shows,
    pick_trap_lines,
    spec_of,
)
from pipeline.testing.screenshot_draw import (
    DARK_THEMES,
    FLYER_THEMES,
    MIN_TEXT_PX,
    TextLine,
    draw_stack,
    pick_style,
    stack_height,
    stack_image,
    text_width,
    wrap_all,
)
from pipeline.testing.screenshot_layouts import LAYOUTS as BASE_LAYOUTS
from pipeline.testing.screenshot_layouts import (
    MAX_WIDTH,
    Rendered,
    draw_social_footer,
    draw_social_header,
    draw_table,
    render_flyer,
    render_lines,
    render_table,
)
from pipeline.testing.screenshot_world import spell_time

PROSE_INTROS = ("Come sing with us this week!", "Here's where to find us:", "Karaoke this week:")
PROSE_OUTROS = ("See you there!", "Bring your friends.", "No cover, all ages until 10.")


def render_prose(rng: random.Random) -> Rendered:
    """A paragraph of running text naming 2-4 shows ('Wednesday at Kelley's Pub 8pm-12am, ...')."""
    style = pick_style(rng)
    shows = pick_shows(rng, rng.randint(2, 4))
    clauses = []
    for index, show in enumerate(shows):
        if show.dj and rng.random() < 0.6:
            credit = dj_text(rng, show.dj, allow_with=False)
            clauses.append(f"{show.day.text} at {show.name} {show.time.text} with {credit}")
        else:
            shows[index] = replace(show, dj=None)
            clauses.append(f"{show.day.text} at {show.name} {show.time.text}")
    body = ", ".join(clauses[:-1]) + f", and {clauses[-1]}." if len(clauses) > 1 else clauses[0] + "."
    text = f"{rng.choice(PROSE_INTROS)} {body} {rng.choice(PROSE_OUTROS)}"
    size = rng.randint(24, 28)
    lines = [TextLine(text, style.font(size), style.theme.fg, space_after=6)]
    image = stack_image(lines, rng.randint(700, 1000), style.theme, margin=rng.randint(30, 50))
    return image, build_truth(shows)


def free_weekday(rng: random.Random, venue_index: int) -> Weekday:
    """A weekday on which the venue has no weekly night."""
    taken = {day for night in WORLD if night.venue_index == venue_index for day in night.days}
    return rng.choice([day for day in WEEKDAYS if day not in taken] or list(WEEKDAYS))


def special_event(rng: random.Random) -> tuple[int, ShowSpec]:
    """A venue index and a one-night show at it (day and time not yet spelled for a date)."""
    index = rng.randrange(len(VENUES))
    start, end = rng.choice((("20:00", "00:00"), ("21:00", "02:00"), ("19:00", "23:00")))
    time = TimeText(spell_time(rng, start, end), start, end)
    day = free_weekday(rng, index)
    spec = ShowSpec(VENUES[index], DayText(day, (day,)), time, rng.choice(DJ_NAMES), address_shown=True)
    return index, spec


def render_dated(rng: random.Random) -> Rendered:
    """A one-off event flyer with a full date ('Thursday, December 31, 2026')."""
    style = pick_style(rng, FLYER_THEMES)
    _, spec = special_event(rng)
    first = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(720))
    date = first + dt.timedelta(days=(WEEKDAYS.index(spec.day.days[0]) - first.weekday()) % 7)
    written = rng.choice((f"{date:%A, %B} {date.day}, {date.year}", f"{date:%a %b} {date.day}, {date.year}"))
    spec = replace(spec, date=date, day=DayText(written, spec.day.days))
    size = rng.randint(32, 38)
    headline = rng.choice(("NEW YEAR'S EVE KARAOKE", "KARAOKE PARTY", "CHARITY KARAOKE NIGHT"))
    theme = style.theme
    lines = [
        TextLine(headline, style.font(size + 12, bold=True), theme.fg, True, space_after=30),
        TextLine(written, style.font(size, bold=True), theme.accent, True),
        TextLine(spec.time.text, style.font(size), theme.fg, True),
        TextLine(spec.name, style.font(size, bold=True), theme.fg, True),
        TextLine(dj_text(rng, spec.dj or "Max"), style.font(size - 4), theme.fg, True),
        TextLine(spec.venue.address_text, style.font(size - 8), theme.muted, True),
    ]
    return stack_image(lines, rng.randint(760, 1000), theme, margin=44), build_truth([spec])


MONTHLY_RULES = ("Last {T} of the Month", "First {T} of every month", "Second {T} of the month")


def render_monthly(rng: random.Random) -> Rendered:
    """Monthly nights ('Last SATURDAY of Month'): the truth keeps the weekday and the rule."""
    style = pick_style(rng)
    specs = []
    for index in rng.sample(range(len(VENUES)), rng.randint(1, 3)):
        day = free_weekday(rng, index)
        rule = rng.choice(MONTHLY_RULES).format(T=day.title() if rng.random() < 0.6 else day.upper())
        start, end = rng.choice((("20:00", "00:00"), ("21:00", "01:00")))
        time = TimeText(spell_time(rng, start, end), start, end)
        specs.append(ShowSpec(VENUES[index], DayText(rule, (day,)), time, None, note=rule))
    size = rng.randint(24, 28)
    lines = [
        TextLine("Monthly Karaoke", style.font(size + 12, bold=True), style.theme.accent, space_after=24)
    ]
    lines += [
        TextLine(f"{spec.day.text} - {spec.name} - {spec.time.text}", style.font(size), style.theme.fg)
        for spec in specs
    ]
    return stack_image(lines, rng.randint(760, 1100), style.theme, margin=40), build_truth(specs)


def render_grid(rng: random.Random) -> Rendered:
    """A weekly grid: one row per venue, one column per weekday, start-end times in the cells."""
    style = pick_style(rng)
    shows = [replace(show, dj=None) for show in pick_shows(rng, rng.randint(2, 4))]
    used = {day for show in shows for day in show.day.days}
    days = [day for day in WEEKDAYS if day in used or rng.random() < 0.3]
    short = rng.random() < 0.5
    header = ["Venue"] + [day[:3].title() if short else day.title() for day in days]
    rows = [header]
    for show in shows:
        cell = show.time.text.replace(" - ", "-")
        rows.append([show.name] + [cell if day in show.day.days else "" for day in days])
    size = 22 if len(days) > 4 else 24
    widths = [
        max(text_width(style.font(size, bold=True), row[c]) for row in rows) + 28 for c in range(len(header))
    ]
    image = draw_table(rng, style, rows, widths, size, margin=24)
    shows = [
        replace(show, time=replace(show.time, text=show.time.text.replace(" - ", "-"))) for show in shows
    ]
    return image, build_truth(shows)


def render_story(rng: random.Random) -> Rendered:
    """An Instagram-style story: tall, status bar, account header, big centred lines."""
    style = pick_style(rng, FLYER_THEMES + DARK_THEMES)
    theme, width = style.theme, 540
    shows = pick_shows(rng, rng.randint(1, 2))
    lines = [TextLine("THIS WEEK", style.font(40, bold=True), theme.accent, True, space_after=30)]
    for show in shows:
        lines += [
            TextLine(show.day.text.upper(), style.font(32, bold=True), theme.fg, True),
            TextLine(show.name, style.font(30), theme.fg, True),
            TextLine(show.time.text, style.font(28), theme.fg, True, space_after=36),
        ]
    lines = wrap_all(lines, width - 60)
    image = Image.new("RGB", (width, max(960, stack_height(lines) + 320)), theme.bg)
    draw = ImageDraw.Draw(image)
    small = style.font(MIN_TEXT_PX, bold=True)
    draw.text((24, 14), "9:41", font=small, fill=theme.fg)
    draw.line((16, 56, width - 16, 56), fill=theme.muted, width=3)
    draw.text(
        (24, 72),
        f"karaoke_{rng.choice(('cbus', 'ohio', 'nights'))}  {rng.randint(1, 23)}h",
        font=small,
        fill=theme.fg,
    )
    draw_stack(draw, lines, 30, 170, width - 60)
    draw.text((24, image.height - 60), "Send message", font=style.font(MIN_TEXT_PX), fill=theme.muted)
    return image, build_truth([replace(show, dj=None) for show in shows])


TABLE_HEADERS = (
    ("Night", "Location", "Hours", "Host"),
    ("Day", "Bar", "Time", "KJ"),
    ("When", "Where", "Time", "DJ"),
)


def render_dark_table(rng: random.Random) -> Rendered:
    """A dark-theme table with other header words (Night | Location | Hours | Host)."""
    style = pick_style(rng, DARK_THEMES)
    shows = pick_shows(rng, rng.randint(3, 5))
    rows = [list(rng.choice(TABLE_HEADERS))]
    rows += [[show.day.text, show.name, show.time.text, show.dj or ""] for show in shows]
    size = rng.randint(22, 26)
    widths = [max(text_width(style.font(size, bold=True), row[c]) for row in rows) + 28 for c in range(4)]
    return draw_table(rng, style, rows, widths, size, margin=30), build_truth(shows)


def render_photo(rng: random.Random) -> Rendered:
    """A phone photo of a screen or poster: another layout, rotated, blurred, JPEG-compressed."""
    base, truth = rng.choice((render_lines, render_flyer, render_table))(rng)
    angle = rng.uniform(-4.0, 4.0)
    rotated = base.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    blurred = rotated.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    if blurred.width > MAX_WIDTH:
        blurred = blurred.resize((MAX_WIDTH, round(blurred.height * MAX_WIDTH / blurred.width)))
    buffer = io.BytesIO()
    blurred.save(buffer, format="JPEG", quality=rng.randint(55, 75))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB"), truth


def render_phone(rng: random.Random) -> Rendered:
    """A narrow phone screenshot of a notes app: status bar, title, wrapped show lines."""
    style = pick_style(rng)
    theme, width = style.theme, rng.randint(440, 520)
    shows = pick_shows(rng, rng.randint(2, 4))
    font = style.font(rng.randint(22, 24))
    lines = [TextLine("Karaoke this week", style.font(30, bold=True), theme.fg, space_after=20)]
    lines += [TextLine(karaoke_line(rng, show), font, theme.fg, space_after=18) for show in shows]
    lines = wrap_all(lines, width - 40)
    image = Image.new("RGB", (width, stack_height(lines) + 140), theme.bg)
    draw = ImageDraw.Draw(image)
    small = style.font(MIN_TEXT_PX, bold=True)
    draw.text((20, 12), "9:41", font=small, fill=theme.fg)
    battery = f"{rng.randint(10, 99)}%"
    draw.text((width - 20 - text_width(small, battery), 12), battery, font=small, fill=theme.fg)
    draw_stack(draw, lines, 20, 80, width - 40)
    return image, build_truth(shows)


CANCELED_NOTES = (
    "(Temporarily Canceled for Fall/Winter)",
    "(on hiatus until spring)",
    "(Cancelled this week)",
)


def render_venue(rng: random.Random) -> Rendered:
    """A venue's own card: its name, address, then each of its nights, one maybe canceled."""
    style = pick_style(rng)
    index = rng.choice(sorted({night.venue_index for night in WORLD}))
    nights = [night for night in WORLD if night.venue_index == index]
    venue = VENUES[index]
    specs = [replace(spec_of(rng, night), written=None, address_shown=True) for night in nights]
    if rng.random() < 0.5:
        specs[-1] = replace(specs[-1], note=rng.choice(CANCELED_NOTES))
    size = rng.randint(24, 28)
    theme = style.theme
    lines = [
        TextLine(venue.name, style.font(size + 14, bold=True), theme.accent),
        TextLine(venue.address_text, style.font(size - 2), theme.muted, space_after=26),
        TextLine("Karaoke Nights", style.font(size + 2, bold=True), theme.fg, space_after=16),
    ]
    for spec in specs:
        dj = f" with {dj_text(rng, spec.dj, allow_with=False)}" if spec.dj else ""
        note = f" {spec.note}" if spec.note else ""
        lines.append(TextLine(f"{spec.day.text} {spec.time.text}{dj}{note}", style.font(size), theme.fg))
    return stack_image(lines, rng.randint(760, 1100), theme, margin=40), build_truth(specs)


def render_trap_social(rng: random.Random) -> Rendered:
    """A social post about trivia and specials, with status bar and timestamp: no shows."""
    style = pick_style(rng)
    title, body = pick_trap_lines(rng)
    width = rng.randint(600, 760)
    caption = [TextLine(title, style.font(26, bold=True), style.theme.fg, space_after=16)]
    caption += [TextLine(text, style.font(24), style.theme.fg) for text in body]
    caption = wrap_all(caption, width - 56)
    image = Image.new("RGB", (width, 170 + stack_height(caption) + 130), style.theme.bg)
    draw = ImageDraw.Draw(image)
    draw_social_header(rng, draw, style, width, 28)
    bottom = draw_stack(draw, caption, 28, 170, width - 56)
    draw_social_footer(rng, draw, style, width, 28, bottom)
    return image, ParsedSchedule()


TRAP_ROWS = (("Tuesday", "Trivia Night", "7PM-9PM"), ("Wednesday", "Wing Night", "5PM-close"),
             ("Thursday", "Bingo", "7:00PM"), ("Friday", "Fish Fry", "5PM-9PM"),
             ("Sunday", "Brunch", "10AM-2PM"), ("Monday", "Euchre League", "7pm"))  # fmt: skip


def render_trap_table(rng: random.Random) -> Rendered:
    """A table of non-karaoke events at bars (Day | Special | Time | Location): no shows."""
    style = pick_style(rng)
    rows = [["Day", "Special", "Time", "Location"]]
    rows += [[*row, rng.choice(VENUES).name] for row in rng.sample(TRAP_ROWS, rng.randint(3, 5))]
    widths = [max(text_width(style.font(24, bold=True), row[c]) for row in rows) + 28 for c in range(4)]
    return draw_table(rng, style, rows, widths, 24, margin=30), ParsedSchedule()


LAYOUTS: dict[str, Callable[[random.Random], Rendered]] = {
    **BASE_LAYOUTS,
    "prose": render_prose,
    "dated": render_dated,
    "monthly": render_monthly,
    "grid": render_grid,
    "story": render_story,
    "dark-table": render_dark_table,
    "photo": render_photo,
    "phone": render_phone,
    "venue": render_venue,
    "trap-social": render_trap_social,
    "trap-table": render_trap_table,
}
"""Every layout by name: the five base layouts and these."""
