"""Web pages built of lists: week views, A-Z listings, schedule tables, social posts, link-in-bio.

A week view shows dated events under day headers without the year ('SATURDAY
Sat 6/27') below a header with it ('Jun 21 - 27, 2026'); its truth is dated.
An A-Z listing is a long directory (full-page captures run past 5,000 px),
with some venues whose schedule is 'TBA' (no show).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from pipeline.testing.realworld.chrome import (
    button_row,
    cookie_banner,
    esc,
    footer,
    nav_bar,
    page,
    pick_theme,
)
from pipeline.testing.realworld.pages_cards import pick_viewport, spelled
from pipeline.testing.realworld.phrases import (
    HINTS,
    address_line,
    date_label,
    day_label,
    dj_phrase,
    short_day,
    week_range_label,
)
from pipeline.testing.realworld.sample import PHONE, Sample, build_truth
from pipeline.testing.realworld.world import Night, World, sample_nights, weekday_of

__all__ = [
    "render_a_z",
    "render_link_in_bio",
    "render_schedule_table",
    "render_social_post",
    "render_week_view",
]

DIRECTORY_BRANDS: tuple[str, ...] = ("KaraokeFinder", "SingSpot", "Karaoke Near Me", "MicDrop Directory")


def _week(rng: random.Random) -> list[dt.date]:
    """The seven dates (Sunday first) of a random week of 2026."""
    start = dt.date(2026, 1, 4) + dt.timedelta(weeks=rng.randint(0, 50))
    return [start + dt.timedelta(days=offset) for offset in range(7)]


def render_week_view(rng: random.Random, world: World) -> Sample:
    """A calendar week: seven day headers, each with the events of that date."""
    viewport = pick_viewport(rng, 0.35)
    theme = pick_theme(rng)
    week = _week(rng)
    nights = [
        spelled(rng, replace(night, date=week[(("sunday", "monday", "tuesday", "wednesday", "thursday",
                "friday", "saturday").index(night.day))]))
        for night in sample_nights(rng, world, rng.randint(6, 12), distinct_places=False)
    ]  # fmt: skip
    if rng.random() < 0.5:
        index = rng.randrange(len(nights))
        nights[index] = replace(nights[index], cancelled=True)
    columns = []
    for date in week:
        day = weekday_of(date)
        events = "".join(_week_event(rng, n) for n in nights if n.date == date)
        events = events or f"<p class='muted'>{esc(rng.choice(('No events', 'Nothing scheduled')))}</p>"
        columns.append(
            f"<div><div class='headline' style='font-size:18px'>{esc(date_label(date, day))}</div>"
            f"{events}</div>"
        )
    layout = "1fr" if viewport.phone else "repeat(7, 1fr)"
    brand = rng.choice(DIRECTORY_BRANDS)
    body = (
        nav_bar(rng, brand, sticky=True, phone=viewport.phone)
        + f"<div class='wrap'><h1>Karaoke this week</h1><h2>{esc(week_range_label(week[0], week[-1]))}</h2>"
        + f"<div style='display:grid;grid-template-columns:{layout};gap:14px'>{''.join(columns)}</div></div>"
        + (cookie_banner(rng) if rng.random() < 0.4 else "")
    )
    truth = build_truth(nights)
    return Sample("week-view", truth, html=page(theme, "This week", body), viewport=viewport)


def _week_event(rng: random.Random, night: Night) -> str:
    host = f"<div class='muted'>{esc(dj_phrase(rng, night.dj))}</div>" if night.dj else ""
    status = " <span class='badge-cancel'>CANCELLED</span>" if night.cancelled else ""
    name_class = " class='cancelled'" if night.cancelled else ""
    return (
        f"<div class='card' style='margin:8px 0;padding:10px'><b{name_class}>{esc(night.place.name)}</b>"
        f"{status}<div>{esc(night.text or '')}</div>{host}"
        f"<div class='muted'>{esc(night.place.city)}</div></div>"
    )


def render_a_z(rng: random.Random, world: World) -> Sample:
    """A long A-Z directory: letter headings, venues, their nights and addresses."""
    viewport = PHONE if rng.random() < 0.4 else pick_viewport(rng, 0.0)
    theme = pick_theme(rng)
    places = sorted(
        rng.sample(world.places, min(len(world.places), rng.randint(12, 20))), key=lambda p: p.name
    )
    nights: list[Night] = []
    entries: dict[str, list[str]] = {}
    addressed = set()
    for place in places:
        mine = [spelled(rng, n) for n in sample_nights(rng, World((place,), world.djs, world.vendors),
                rng.choice((0, 1, 1, 1, 2)), distinct_places=False)]  # fmt: skip
        nights.extend(mine)
        lines = [
            f"{esc(day_label(rng, n.day))} &middot; {esc(n.text or '')}"
            + (f" &middot; {esc(dj_phrase(rng, n.dj))}" if n.dj else "")
            for n in mine
        ] or [esc(rng.choice(("Karaoke schedule TBA", "Call for karaoke nights")))]
        if rng.random() < 0.8:
            addressed.add(place.name)
            lines.append(f"<span class='muted'>{esc(address_line(place))}</span>")
        key = place.name.removeprefix("The ")[0].upper()
        entries.setdefault(key, []).append(
            f"<div class='card' style='margin:10px 0'><h3>{esc(place.name)}</h3>"
            f"<span class='tag'>{esc(place.tag)}</span><div>{'<br>'.join(lines)}</div>"
            f"{button_row(rng, 1)}</div>"
        )
    sections = "".join(
        f"<h2 style='font-size:34px;border-bottom:2px solid {theme.accent}'>{letter}</h2>{''.join(cards)}"
        for letter, cards in sorted(entries.items())
    )
    index = " ".join(f"<a href='#'>{chr(c)}</a>" for c in range(ord("A"), ord("Z") + 1))
    brand = rng.choice(DIRECTORY_BRANDS)
    body = (
        nav_bar(rng, brand, phone=viewport.phone)
        + f"<div class='wrap' style='max-width:900px'><h1>Karaoke A-Z</h1><p>{index}</p>{sections}</div>"
        + footer(rng, brand)
    )
    truth = build_truth(nights, addressed=addressed)
    return Sample("a-z", truth, html=page(theme, "Karaoke A-Z", body), viewport=viewport)


def render_schedule_table(rng: random.Random, world: World) -> Sample:
    """A directory table: Venue / Day / Time / Host / City, sometimes grouped under day rows."""
    viewport = pick_viewport(rng, 0.25)
    theme = pick_theme(rng)
    nights = [spelled(rng, n) for n in sample_nights(rng, world, rng.randint(8, 16), distinct_places=False)]
    order = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    nights.sort(key=lambda n: (order.index(n.day), n.start))
    grouped = rng.random() < 0.5
    head = ("Venue", "Time", "Host") if grouped else ("Venue", "Day", "Time", "Host", "City")
    rows: list[str] = []
    current = ""
    for night in nights:
        if grouped and night.day != current:
            current = night.day
            rows.append(
                f"<tr><th colspan='3' style='color:{theme.accent}'>{esc(night.day.upper())}</th></tr>"
            )
        host = f"KJ {night.dj}" if night.dj else "-"
        cells = (night.place.name, night.text or "", host) if grouped else (
            night.place.name, short_day(night.day), night.text or "", host, night.place.city)  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    table = "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
    vendor = rng.choice(world.vendors) if rng.random() < 0.5 else None
    brand = vendor or rng.choice(DIRECTORY_BRANDS)
    body = (
        nav_bar(rng, brand, sticky=True, phone=viewport.phone)
        + f"<div class='wrap'><h1>Karaoke Schedule</h1><p class='muted'>{esc(rng.choice(HINTS))}</p>"
        + f"<div class='card'>{table}</div></div>"
        + footer(rng, brand)
    )
    truth = build_truth(nights, vendor=vendor)
    return Sample("schedule-table", truth, html=page(theme, "Schedule", body), viewport=viewport)


def render_social_post(rng: random.Random, world: World) -> Sample:
    """A social media post from a karaoke company: this week's lineup, reactions, comments."""
    viewport = PHONE if rng.random() < 0.5 else pick_viewport(rng, 0.0)
    theme = pick_theme(rng)
    vendor = rng.choice(world.vendors)
    nights = [spelled(rng, n) for n in sample_nights(rng, world, rng.randint(3, 6))]
    lines = [
        f"{esc(short_day(n.day).upper())} &mdash; {esc(n.place.name)} {esc(n.text or '')}"
        + (f" {esc(dj_phrase(rng, n.dj))}" if n.dj else "")
        for n in nights
    ]
    intro = rng.choice(("This week's karaoke lineup!", "Come sing with us this week", "WHERE WE AT"))
    post = (
        "<div class='card' style='max-width:640px;margin:20px auto'>"
        f"<div style='display:flex;gap:12px;align-items:center'><div style='width:48px;height:48px;"
        f"border-radius:50%;background:{theme.accent}'></div><div><b>{esc(vendor)}</b>"
        f"<div class='muted'>{rng.randint(1, 23)}h &middot; Public</div></div></div>"
        f"<p>{esc(intro)} &#9835;</p><p>{'<br>'.join(lines)}</p>"
        f"<p class='muted'>#karaoke #{esc(nights[0].place.city.lower())} #singyourheartout</p>"
        "<div style='height:220px;border-radius:8px;"
        f"background:linear-gradient(135deg,{theme.accent},#222)'></div>"
        f"<div class='muted' style='display:flex;gap:40px;padding-top:10px'><span>&#128077; "
        f"{rng.randint(5, 300)}</span><span>Like</span><span>Comment</span><span>Share</span></div>"
        f"<p><b>{esc(rng.choice(world.djs))}</b> See you there!!</p></div>"
    )
    body = f"<div style='padding:10px'>{post}</div>"
    truth = build_truth(nights, vendor=vendor)
    return Sample("social-post", truth, html=page(theme, vendor, body), viewport=viewport)


def render_link_in_bio(rng: random.Random, world: World) -> Sample:
    """A link-in-bio page: avatar, handle, one button per night, and other link buttons."""
    viewport = PHONE if rng.random() < 0.75 else pick_viewport(rng, 0.0)
    theme = pick_theme(rng, "dark")
    vendor = rng.choice(world.vendors)
    handle = "@" + "".join(ch for ch in vendor.lower() if ch.isalnum())
    # the buttons name no host: the truth has no DJ either
    nights = [
        replace(spelled(rng, n, "short"), dj=None) for n in sample_nights(rng, world, rng.randint(3, 5))
    ]
    style = (
        f"display:block;margin:12px auto;max-width:520px;padding:16px;border-radius:14px;"
        f"background:{theme.card};border:2px solid {theme.accent};text-align:center;font-weight:700"
    )
    buttons = [f"<div style='{style}'>{esc(short_day(n.day).upper())} &middot; {esc(n.place.name)} &middot; "
               f"{esc(n.text or '')}</div>" for n in nights]  # fmt: skip
    buttons += [f"<div style='{style}'>{esc(b)}</div>" for b in ("BOOK A PRIVATE PARTY", "VISIT WEBSITE")]
    body = (
        "<div style='padding:30px 16px;min-height:100vh;background:linear-gradient(180deg,#2a1145,#0b0b14)'>"
        "<div style='width:96px;height:96px;border-radius:50%;margin:0 auto;"
        f"background:{theme.accent}'></div>"
        f"<h2 style='text-align:center'>{esc(handle)}</h2>"
        f"<p style='text-align:center' class='muted'>{esc(vendor)} &middot; {esc(rng.choice(HINTS))}</p>"
        + "".join(buttons)
        + "</div>"
    )
    truth = build_truth(nights, vendor=vendor)
    return Sample("link-in-bio", truth, html=page(theme, handle, body), viewport=viewport)
