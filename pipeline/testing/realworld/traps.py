"""Images with days and times but no karaoke show: menus, trivia and food specials, sheet music, photos.

Their truth is empty: any show read from them is a false positive. They carry
the things that fool a parser (a bar's name, weekdays, '7PM', prices, words
like 'sing' and 'music'), never a karaoke night.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

from pipeline.schema import ParsedSchedule
from pipeline.testing.realworld.chrome import esc, nav_bar, page, pick_theme
from pipeline.testing.realworld.flyers import SMALL_FONT_FILES, load_font
from pipeline.testing.realworld.pages_cards import pick_viewport
from pipeline.testing.realworld.sample import Sample
from pipeline.testing.realworld.world import World

__all__ = ["TRAPS"]

_DISHES: tuple[str, ...] = (
    "Classic Smash Burger", "Buffalo Wings (10)", "Loaded Nachos", "Fish Tacos", "Caesar Salad",
    "Pulled Pork Sliders", "Mozzarella Sticks", "Philly Cheesesteak", "Soft Pretzel & Beer Cheese",
    "Chicken Quesadilla", "Fried Pickles", "BBQ Brisket Plate",
)  # fmt: skip
_SPECIALS: tuple[str, ...] = (
    "TRIVIA TUESDAY - 7PM - Teams up to 6", "Wing Wednesday - 60c wings 4PM-close",
    "Taco Tuesday $2 tacos all day", "Happy Hour Mon-Fri 3-6PM", "Bingo Thursdays 7:30pm",
    "Live Music Saturday 9PM - The Jukebox Heroes", "Sunday Brunch 10am-2pm", "Euchre League Mondays 7pm",
    "Steak Night Friday 5-9PM", "NFL Sunday Ticket - every game, every Sunday",
)  # fmt: skip
_LYRICS: tuple[str, ...] = (
    "Sing a - long with me to - night", "Ev - 'ry Fri - day we sing", "Hap - py birth - day to you",
    "Oh the night is young", "Glo - ry, glo - ry, hal - le - lu - jah",
)  # fmt: skip


def _empty() -> ParsedSchedule:
    return ParsedSchedule()


def render_menu(rng: random.Random, world: World) -> Sample:
    """A bar's food menu page with prices and a happy-hour line."""
    place = rng.choice(world.places)
    theme = pick_theme(rng)
    dishes = rng.sample(_DISHES, rng.randint(7, 11))
    rows = "".join(
        f"<tr><td><b>{esc(d)}</b><div class='muted'>served with fries or slaw</div></td>"
        f"<td>${rng.randint(7, 19)}.{rng.choice(('00', '50', '99'))}</td></tr>"
        for d in dishes
    )
    body = (
        nav_bar(rng, place.name)
        + f"<div class='wrap' style='max-width:800px'><h1>Menu</h1><p class='muted'>Kitchen open daily "
        f"11AM-10PM &middot; Happy Hour Mon-Fri 3-6PM</p><div class='card'><table>{rows}</table></div></div>"
    )
    return Sample("trap-menu", _empty(), html=page(theme, "Menu", body), viewport=pick_viewport(rng, 0.3))


def render_specials(rng: random.Random, world: World) -> Sample:
    """A bar's weekly specials: trivia, wings, bingo, live music; no karaoke."""
    place = rng.choice(world.places)
    theme = pick_theme(rng)
    lines = rng.sample(_SPECIALS, rng.randint(4, 7))
    cards = "".join(
        f"<div class='card' style='margin:10px 0'><div class='headline'>{esc(t)}</div></div>" for t in lines
    )
    body = (
        nav_bar(rng, place.name)
        + f"<div class='wrap' style='max-width:900px'><h1>Weekly Specials</h1>{cards}</div>"
    )
    return Sample(
        "trap-specials", _empty(), html=page(theme, "Specials", body), viewport=pick_viewport(rng, 0.4)
    )


def render_sheet_music(rng: random.Random, world: World) -> Sample:
    """A page of sheet music: title, staves, note heads and lyrics under them."""
    del world
    image = Image.new("RGB", (1100, 1400), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    title_font = load_font("opentype/urw-base35/C059-Bold.otf", 56)
    lyric_font = load_font(rng.choice(SMALL_FONT_FILES), 26)
    title = rng.choice(("Friday Night Song", "Sing Along", "The Karaoke Waltz"))
    draw.text((550, 70), title, font=title_font, fill=(20, 20, 20), anchor="mm")
    draw.text((1000, 130), "Words & Music by J. Doe", font=lyric_font, fill=(40, 40, 40), anchor="rm")
    for staff in range(8):
        top = 200 + staff * 145
        for line in range(5):
            draw.line((70, top + line * 14, 1030, top + line * 14), fill=(30, 30, 30), width=2)
        for note in range(rng.randint(10, 16)):
            x, step = 130 + note * 58, rng.randint(-2, 9)
            y = top + step * 7
            draw.ellipse((x - 9, y - 7, x + 9, y + 7), fill=(15, 15, 15))
            draw.line((x + 8, y, x + 8, y - 45), fill=(15, 15, 15), width=3)
        draw.text((120, top + 85), rng.choice(_LYRICS), font=lyric_font, fill=(30, 30, 30))
    return Sample("trap-sheet-music", _empty(), image=image, fmt="jpeg", quality=rng.randint(70, 85))


def render_photo_of_text(rng: random.Random, world: World) -> Sample:
    """A phone photo of a chalkboard of specials: tilted, perspective-warped, blurred, noisy."""
    place = rng.choice(world.places)
    board = Image.new("RGB", (1000, 800), (38, 44, 40))
    draw = ImageDraw.Draw(board)
    font = load_font("opentype/lobster/lobster.otf", 62)
    small = load_font(rng.choice(SMALL_FONT_FILES), 44)
    draw.text((500, 70), place.name, font=font, fill=(240, 240, 230), anchor="mm")
    for row, line in enumerate(rng.sample(_SPECIALS, 5)):
        draw.text((60, 170 + row * 110), line, font=small, fill=(235, 235, 220))
    wall = Image.new("RGB", (1300, 1100), (rng.randint(90, 160), rng.randint(70, 120), rng.randint(50, 90)))
    wall.paste(board.rotate(rng.uniform(-7, 7), expand=True, fillcolor=(60, 40, 30)), (120, 120))
    shift = rng.randint(40, 120)
    warped = wall.transform(wall.size, Image.Transform.QUAD, (shift, 0, 0, 1100, 1300, 1100, 1300 - shift, 0))
    noise = Image.effect_noise(warped.size, 40).convert("RGB")
    photo = Image.blend(warped.filter(ImageFilter.GaussianBlur(1.6)), noise, 0.08).resize((975, 825))
    return Sample("trap-photo", _empty(), image=photo, fmt="jpeg", quality=rng.randint(60, 80))


TRAPS: dict[str, Callable[[random.Random, World], Sample]] = {
    "trap-menu": render_menu,
    "trap-specials": render_specials,
    "trap-sheet-music": render_sheet_music,
    "trap-photo": render_photo_of_text,
}
