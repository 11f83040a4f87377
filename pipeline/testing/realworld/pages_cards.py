"""Web pages built of cards: a company's card grid, a directory's venue pane and venue modal.

A card grid is what a karaoke company puts on its schedule page: 1-4 columns
of cards, each a venue title, a headline ('SUNDAYS KARAOKE 7:00PM - 11:00PM
with DJ Steve') that wraps inside a narrow card, small-print address, tags and
buttons. A venue pane (or modal) carries its title down to a Day / Time / Host
table whose narrow time cells wrap.
"""

from __future__ import annotations

import random
from dataclasses import replace

from pipeline.testing.realworld.chrome import (
    Theme,
    button_row,
    cookie_banner,
    esc,
    footer,
    nav_bar,
    page,
    pick_theme,
)
from pipeline.testing.realworld.phrases import HINTS, address_line, day_label, dj_phrase
from pipeline.testing.realworld.sample import DESKTOP_WIDTHS, PHONE, Sample, Viewport, build_truth
from pipeline.testing.realworld.world import Night, Place, World, sample_nights, spell_range

__all__ = ["render_card_grid", "render_venue_pane"]


def pick_viewport(rng: random.Random, phone_rate: float) -> Viewport:
    """A phone (390 px @3x) with probability ``phone_rate``, else a desktop 1280-1920 wide."""
    if rng.random() < phone_rate:
        return PHONE
    width = rng.choice(DESKTOP_WIDTHS)
    return Viewport(width=width, height=rng.choice((800, 900, 1080)))


def spelled(rng: random.Random, night: Night, style: str | None = None) -> Night:
    """``night`` with its time text drawn."""
    return replace(night, text=spell_range(rng, night.start, night.end, style))


def _headline(rng: random.Random, night: Night) -> str:
    host = f" {dj_phrase(rng, night.dj)}" if night.dj else ""
    word = rng.choice(("KARAOKE", "Karaoke Night", "KARAOKE", "Karaoke"))
    return f"{day_label(rng, night.day)} {word} {night.text}{host}"


def _card(rng: random.Random, place: Place, nights: list[Night], show_address: bool) -> str:
    parts: list[str] = []
    title = f"<h3>{esc(place.name)}</h3>"
    lines = []
    for night in nights:
        text = esc(_headline(rng, night))
        if night.cancelled:
            text = f"<span class='cancelled'>{text}</span> <span class='badge-cancel'>CANCELLED</span>"
        lines.append(f"<div class='headline'>{text}</div>")
    headline_first = rng.random() < 0.35
    parts.extend([*lines, title] if headline_first else [title, *lines])
    if rng.random() < 0.5:
        parts.append(f"<div><span class='tag'>{esc(place.tag)}</span></div>")
    if show_address:
        parts.append(f"<div class='muted'>{esc(address_line(place))}</div>")
    if rng.random() < 0.2:
        parts.append(f"<div class='muted'><i>{esc(rng.choice(HINTS))}</i></div>")
    parts.append(button_row(rng, rng.choice((1, 2))))
    return "<div class='card'>" + "".join(parts) + "</div>"


def _cards_nights(rng: random.Random, world: World, count: int) -> list[list[Night]]:
    """One or two nights per venue, distinct days; about one page in three has a cancelled night."""
    nights = sample_nights(rng, world, count)
    groups: list[list[Night]] = []
    for night in nights:
        group = [spelled(rng, night)]
        if rng.random() < 0.2:
            other_day = rng.choice([d for d in ("friday", "saturday", "wednesday") if d != night.day])
            group.append(spelled(rng, replace(night, day=other_day)))  # type: ignore[arg-type]
        groups.append(group)
    if rng.random() < 0.4 and groups:
        index = rng.randrange(len(groups))
        groups[index][0] = replace(groups[index][0], cancelled=True)
    return groups


def render_card_grid(rng: random.Random, world: World) -> Sample:
    """A company's weekly schedule as a grid of 1-4 columns of venue cards."""
    viewport = pick_viewport(rng, 0.25)
    columns = 1 if viewport.phone else rng.choice((2, 3, 3, 4))
    groups = _cards_nights(rng, world, columns * rng.randint(2, 4) if columns > 1 else rng.randint(4, 7))
    vendor = rng.choice(world.vendors)
    theme = pick_theme(rng)
    addressed = {g[0].place.name for g in groups if rng.random() < 0.7}
    cards = "".join(_card(rng, g[0].place, g, g[0].place.name in addressed) for g in groups)
    grid = f"<div style='display:grid;grid-template-columns:repeat({columns},1fr);gap:20px'>{cards}</div>"
    title = rng.choice(("Weekly Karaoke Schedule", "Where to Sing This Week", "Our Shows", "KARAOKE NIGHTS"))
    body = (
        nav_bar(rng, vendor, sticky=rng.random() < 0.5, phone=viewport.phone)
        + f"<div class='wrap'><h1>{esc(title)}</h1>"
        + f"<p class='muted'>{esc(rng.choice(HINTS))}</p>{grid}</div>"
        + footer(rng, vendor)
        + (cookie_banner(rng) if rng.random() < 0.3 else "")
    )
    nights = [night for group in groups for night in group]
    truth = build_truth(nights, vendor=vendor, addressed=addressed)
    return Sample("card-grid", truth, html=page(theme, title, body), viewport=viewport)


def _schedule_table(rng: random.Random, nights: list[Night], narrow: bool) -> str:
    width = "style='width:96px'" if narrow else ""
    rows = []
    for night in nights:
        host = f"{rng.choice(('DJ ', 'KJ ', ''))}{night.dj}" if night.dj else rng.choice(("-", "TBA", ""))
        rows.append(
            f"<tr><td>{esc(night.day.title())}</td><td {width}>{esc(night.text or '')}</td>"
            f"<td>{esc(host)}</td></tr>"
        )
    return "<table><tr><th>Day</th><th>Time</th><th>Host</th></tr>" + "".join(rows) + "</table>"


def _pane(rng: random.Random, theme: Theme, place: Place, nights: list[Night]) -> str:
    labels = dict.fromkeys((place.tag, rng.choice(("Food", "21+"))))  # ordered, unlike a set
    tags = "".join(f"<span class='tag'>{esc(t)}</span>" for t in labels)
    return (
        f"<div class='card'><h2>{esc(place.name)}</h2><div>{tags}</div>"
        f"<p class='muted'>{esc(address_line(place))}<br>{esc(place.phone)}</p>"
        + button_row(rng, 2)
        + "<h3 style='margin-top:18px'>Karaoke Schedule</h3>"
        + _schedule_table(rng, nights, narrow=rng.random() < 0.6)
        + "</div>"
    )


def _venue_nights(rng: random.Random, world: World) -> list[Night]:
    """One venue's 1-3 nights on distinct days, time text drawn in one style."""
    place = rng.choice(world.places)
    days = rng.sample(("tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), rng.randint(1, 3))
    style = rng.choice(("long", "compact", "short"))
    base = sample_nights(rng, World((place,), world.djs, world.vendors), len(days), distinct_places=False)
    return [spelled(rng, replace(n, day=day), style) for n, day in zip(base, days, strict=False)]  # type: ignore[arg-type]


def render_venue_pane(rng: random.Random, world: World) -> Sample:
    """A directory app: a list of venues with one selected, shown in a side pane or a modal."""
    viewport = pick_viewport(rng, 0.4)
    theme = pick_theme(rng)
    nights = _venue_nights(rng, world)
    place = nights[0].place
    others = [p for p in world.places if p != place][: rng.randint(5, 9)]
    listing = "".join(
        f"<div class='card' style='margin-bottom:10px'><b>{esc(p.name)}</b><br>"
        f"<span class='tag'>{esc(p.tag)}</span><span class='muted'>{esc(p.city)}</span></div>"
        for p in [place, *others]
    )
    modal = rng.random() < 0.5
    pane = _pane(rng, theme, place, nights)
    brand = rng.choice(("KaraokeFinder", "SingSpot", "Karaoke Near Me", "MicDrop Directory"))
    if modal:
        content = (
            f"<div class='wrap' style='filter:blur(5px)'>{listing}</div>"
            "<div style='position:fixed;inset:0;background:rgba(0,0,0,.55)'></div>"
            f"<div style='position:fixed;top:8%;left:50%;transform:translateX(-50%);"
            f"width:min(560px,94vw);z-index:8'>{pane}</div>"
        )
    elif viewport.phone:
        content = f"<div class='wrap'>{pane}</div>"
    else:
        content = (
            "<div class='wrap' style='display:grid;grid-template-columns:340px 1fr;gap:24px'>"
            f"<div>{listing}</div><div>{pane}</div></div>"
        )
    body = nav_bar(rng, brand, phone=viewport.phone) + content
    if rng.random() < 0.35:
        body += cookie_banner(rng)
    truth = build_truth(nights, addressed={place.name})
    viewport = replace(viewport, full_page=not modal)
    return Sample("venue-pane", truth, html=page(theme, place.name, body), viewport=viewport)
