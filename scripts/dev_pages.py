"""A small hand-written dev set for the layout-aware parser: web pages in Chromium, two flyers.

Not the issue's corpus (that is the generator on branch i10-corpus); a few pages
shaped like the failure modes issue 10 lists, with truth written from the same
data that fills the HTML. Run inside loopback-only:

    python scripts/dev_pages.py --out /tmp/i10-dev
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CHROMIUM = "/usr/bin/chromium"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Night:
    venue: str
    day: str
    start: str
    end: str | None
    time: str
    dj: str | None
    street: str
    city: str = "Columbus"


NIGHTS = [
    Night("The Rusty Nail", "monday", "20:00", "00:00", "8:00PM - 12:00AM", "Steve", "123 Main St"),
    Night("Sand Bar Station", "tuesday", "21:00", "01:00", "9:00 PM - 1:00 AM", "Kat", "88 High St"),
    Night("Oties Tavern & Grill", "wednesday", "19:30", "23:30", "7:30pm-11:30pm", "Ray", "4 Oak Ave"),
    Night("Kelley's Pub", "thursday", "21:00", "02:00", "9PM-2AM", "Mike", "500 Broad St"),
    Night("Crescent Lounge", "friday", "20:00", "00:00", "8PM - MIDNIGHT", None, "77 Elm Rd"),
    Night("Bluebird Bar", "saturday", "21:30", "01:30", "9:30pm - 1:30am", "Lena", "12 Pine Ln"),
]


def truth_of(nights: list[Night], vendor: str | None = None) -> dict[str, object]:
    shows = [
        {
            "venueName": n.venue,
            "day": n.day,
            "startTime": n.start,
            "endTime": n.end,
            "time": n.time,
            "djName": n.dj,
            "vendor": vendor,
        }
        for n in nights
    ]
    venues = [{"name": n.venue, "address": n.street, "city": n.city, "state": "OH"} for n in nights]
    return {"vendors": [{"name": vendor}] if vendor else [], "venues": venues, "djs": [], "shows": shows}


NAV = "<nav><b>STARLIGHT</b> <a>Home</a> <a>Schedule</a> <a>Hosts</a> <a>Book Us</a> <a>Contact</a></nav>"
CSS = """
body{margin:0;font-family:sans-serif;background:var(--bg);color:var(--fg)}
nav{display:flex;gap:28px;padding:18px 40px;background:var(--nav);font-size:15px}
h1{text-align:center;font-size:34px} .grid{display:grid;gap:28px;padding:20px 40px}
.card{background:var(--card);border-radius:10px;padding:22px} .head{font-size:22px;font-weight:bold}
.venue{font-size:19px;margin-top:12px;font-weight:bold} .addr{font-size:14px;opacity:.8}
.btn{display:inline-block;margin-top:12px;padding:6px 12px;border:1px solid var(--fg);font-size:12px;margin-right:8px}
.tag{display:inline-block;padding:3px 8px;background:#4a7;color:#fff;border-radius:8px;font-size:12px;margin-right:6px}
table{border-collapse:collapse;margin-top:10px} td,th{padding:6px 14px;text-align:left;border-bottom:1px solid #8884}
.cookie{position:fixed;bottom:0;left:0;right:0;background:#222;color:#eee;padding:14px 40px;font-size:14px}
"""
THEMES = {
    "dark": "--bg:#111;--fg:#eee;--nav:#000;--card:#222",
    "light": "--bg:#fafafa;--fg:#222;--nav:#ddd;--card:#fff",
}


def page(theme: str, body: str) -> str:
    return f"<html><head><style>:root{{{THEMES[theme]}}}{CSS}</style></head><body>{body}</body></html>"


def cards_page(nights: list[Night], columns: int, theme: str) -> str:
    cards = "".join(
        f'<div class="card"><div class="head">{n.day.upper()}S KARAOKE {n.time}'
        f'{" with DJ " + n.dj if n.dj else ""}</div><div class="venue">{n.venue}</div>'
        f'<div class="addr">{n.street}, {n.city}, OH</div><span class="btn">FACEBOOK PAGE</span>'
        f'<span class="btn">VENUE WEBSITE</span></div>'
        for n in nights
    )
    style = f'style="grid-template-columns:repeat({columns},1fr)"'
    return page(theme, f'{NAV}<h1>Weekly Karaoke Schedule</h1><div class="grid" {style}>{cards}</div>')


def pane_page(night_rows: list[Night], theme: str) -> str:
    first = night_rows[0]
    rows = "".join(
        f"<tr><td>{n.day.title()}</td><td style='width:70px'>{n.time}</td><td>{n.dj or ''}</td></tr>"
        for n in night_rows
    )
    body = (
        f'{NAV}<div class="grid" style="grid-template-columns:1fr 2fr"><div class="card">'
        f'<div class="head">{first.venue}</div><span class="tag">Sports Bar</span><span class="tag">Dedicated</span>'
        f'<div class="addr">{first.street} Ste 600, {first.city}, OH 43215</div><div class="addr">(614) 555-0134</div>'
        f"<table><tr><th>Day</th><th>Time</th><th>Host</th></tr>{rows}</table>"
        f'<div class="addr">Also every day</div></div><div class="card"><div class="head">About</div>'
        f'<div class="addr">The best sound system in town. Sing your heart out!</div></div></div>'
        f'<div class="cookie">We use cookies to improve your experience. <b>Accept</b> <b>Decline</b></div>'
    )
    return page(theme, body)


def week_page(nights: list[Night], theme: str) -> str:
    days = "".join(
        f'<div class="card"><div class="head">{n.day.upper()}</div><div class="venue">{n.venue}</div>'
        f'<div class="addr">{n.time}</div><div class="addr">{"KJ " + n.dj if n.dj else ""}</div></div>'
        for n in nights
    )
    return page(
        theme,
        f'{NAV}<h1>This Week</h1><div class="grid" style="grid-template-columns:repeat(3,1fr)">{days}</div>',
    )


def render_pages(out: Path, jobs: dict[str, tuple[str, tuple[int, int, int]]]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, (html, (width, height, scale)) in jobs.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            tab = context.new_page()
            tab.set_content(html)
            tab.screenshot(path=str(out / name), full_page=True)
            context.close()
        browser.close()


def flyer(night: Night, vendor: str, rng: random.Random) -> Image.Image:
    width, height = 900, 1160
    image = Image.new("RGB", (width, height), (30, 10, 60))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(30, 160)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(60, 140), 20, rng.randrange(80, 160)))
    image = image.filter(ImageFilter.GaussianBlur(6))
    draw = ImageDraw.Draw(image)
    bold = str(FONT_DIR / "DejaVuSans-Bold.ttf")
    plain = str(FONT_DIR / "DejaVuSans.ttf")

    def centre(text: str, y: int, size: int, font: str, fill: tuple[int, int, int]) -> None:
        face = ImageFont.truetype(font, size)
        w = draw.textlength(text, font=face)
        draw.text(((width - w) / 2, y), text, font=face, fill=fill)

    draw.rounded_rectangle((40, 40, 420, 150), 20, fill=(250, 200, 40))
    draw.text((60, 70), vendor, font=ImageFont.truetype(bold, 40), fill=(20, 20, 20))
    centre("KARAOKE NIGHT", 250, 80, bold, (255, 255, 255))
    centre(f"EVERY {night.day.upper()}", 420, 64, bold, (255, 230, 90))
    centre(night.time, 520, 60, bold, (255, 255, 255))
    if night.dj:
        centre(f"with KJ {night.dj}", 640, 44, plain, (230, 230, 230))
    centre(night.venue, 900, 34, bold, (255, 255, 255))
    centre(f"{night.street}, {night.city}, OH", 950, 28, plain, (220, 220, 220))
    return image.resize((450, 580))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, object] = {}
    jobs: dict[str, tuple[str, tuple[int, int, int]]] = {
        "01-cards3.png": (cards_page(NIGHTS, 3, "dark"), (1600, 900, 1)),
        "02-cards2.png": (cards_page(NIGHTS[:4], 2, "light"), (1280, 800, 1)),
        "03-cards4.png": (cards_page(NIGHTS, 4, "light"), (1920, 900, 1)),
        "04-pane.png": (pane_page([NIGHTS[0], NIGHTS[3], NIGHTS[5]], "light"), (1280, 800, 1)),
        "05-week.png": (week_page(NIGHTS, "dark"), (1440, 900, 1)),
        "06-phone.png": (cards_page(NIGHTS[:3], 1, "dark"), (390, 844, 3)),
    }
    truth["01-cards3.png"] = truth_of(NIGHTS)
    truth["02-cards2.png"] = truth_of(NIGHTS[:4])
    truth["03-cards4.png"] = truth_of(NIGHTS)
    pane_nights = [NIGHTS[0], NIGHTS[3], NIGHTS[5]]
    truth["04-pane.png"] = truth_of(
        [replace(n, venue=NIGHTS[0].venue, street=NIGHTS[0].street) for n in pane_nights]
    )
    truth["05-week.png"] = truth_of(NIGHTS)
    truth["06-phone.png"] = truth_of(NIGHTS[:3])
    render_pages(args.out, jobs)
    rng = random.Random(7)
    for index, (night, vendor) in enumerate([(NIGHTS[1], "Mike's Karaoke"), (NIGHTS[2], "Star Karaoke")]):
        name = f"{7 + index:02d}-flyer.jpg"
        flyer(night, vendor, rng).save(args.out / name, quality=70)
        truth[name] = truth_of([night], vendor)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
