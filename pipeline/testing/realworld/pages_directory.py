"""A listings app's pages where the line over the street is not the venue.

Two families the rotation does not draw (so every existing seed renders as
before); they are asked for by name (``EXTRA_FAMILIES``), for the line-role
training set and the leave-one-family-out figures:

- ``search-results``: dark cards of search results, each the venue's title over
  a neighbourhood line, host and tag chips, and the night ('Wed · 9:00 PM -
  1:00 AM'); day tabs and a result count above them.
- ``venue-page``: one venue's page: its title, an 'About This Venue' box with a
  paragraph, the street, then its karaoke nights as a list with a subtitle.
"""

from __future__ import annotations

import random
from dataclasses import replace

from pipeline.testing.realworld.chrome import button_row, esc, nav_bar, page, pick_theme
from pipeline.testing.realworld.pages_cards import pick_viewport, spelled
from pipeline.testing.realworld.phrases import address_line, dj_phrase, short_day
from pipeline.testing.realworld.sample import Sample, build_truth
from pipeline.testing.realworld.world import World, sample_nights

__all__ = ["NEIGHBOURHOODS", "render_search_results", "render_venue_page"]

NEIGHBOURHOODS: tuple[str, ...] = (
    "Downtown", "Midtown", "Old Town", "Riverside", "East Village", "Arts District", "Uptown",
    "Northside", "Harbor District", "University Area", "Westgate", "Lakeview",
)  # fmt: skip
_BRANDS: tuple[str, ...] = ("SingFinder", "KJ Map", "Mic Night", "Karaoke Scene")
_ABOUT: tuple[str, ...] = (
    "A neighbourhood bar with cold beer, friendly staff and one of the best sound systems in town.",
    "Locally owned since 1998. Big patio, pool tables and a full kitchen until midnight.",
    "Craft beer, burgers and a stage that welcomes first-timers and regulars alike.",
)  # fmt: skip


def _chip(text: str, accent: str) -> str:
    return (
        f"<span style='display:inline-block;padding:3px 10px;border-radius:999px;font-size:12px;"
        f"border:1px solid {accent};margin:6px 6px 0 0'>{esc(text)}</span>"
    )


def render_search_results(rng: random.Random, world: World) -> Sample:
    """Search results: title, neighbourhood line, host chip, the night; sometimes day tabs above."""
    viewport = pick_viewport(rng, 0.4)
    theme = pick_theme(rng, "dark" if rng.random() < 0.7 else "light")
    nights = [spelled(rng, n) for n in sample_nights(rng, world, rng.randint(4, 10))]
    addressed = {n.place.name for n in nights if rng.random() < 0.3}
    cards = []
    for night in nights:
        chips = _chip(f"{rng.choice(('KJ', 'DJ', 'Host:'))} {night.dj}", theme.accent) if night.dj else ""
        chips += _chip(night.place.tag, theme.border)
        street = (
            f"<div class='muted'>{esc(address_line(night.place))}</div>"
            if night.place.name in addressed
            else ""
        )
        when = f"{short_day(night.day)} &middot; {esc(night.text or '')}"
        cards.append(
            "<div class='card'><div style='height:90px;border-radius:8px;margin-bottom:10px;"
            f"background:linear-gradient(120deg,{theme.accent},#111)'></div>"
            f"<h3>{esc(night.place.name)}</h3>"
            f"<div class='muted'>{esc(rng.choice(NEIGHBOURHOODS))}</div>{street}<div>{chips}</div>"
            f"<div style='margin-top:8px;font-weight:700'>{when}</div></div>"
        )
    columns = 1 if viewport.phone else rng.choice((2, 3))
    tabs = "".join(
        f"<span style='padding:6px 12px;{'border-bottom:3px solid ' + theme.accent if i == 0 else ''}'>"
        f"{d}</span>"
        for i, d in enumerate(("All", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    )
    brand = rng.choice(_BRANDS)
    body = (
        nav_bar(rng, brand, phone=viewport.phone)
        + f"<div class='wrap'><div class='muted'>{len(nights)} results for "
        + f"'{esc(rng.choice(('karaoke', 'karaoke tonight', 'kj')))}'</div><div>{tabs}</div>"
        + f"<div style='display:grid;grid-template-columns:repeat({columns},1fr);gap:16px'>"
        + f"{''.join(cards)}</div>"
        + "</div>"
    )
    truth = build_truth(nights, addressed=addressed)
    return Sample("search-results", truth, html=page(theme, "Search", body), viewport=viewport)


def render_venue_page(rng: random.Random, world: World) -> Sample:
    """One venue's page: title, 'About This Venue', its street, and its nights as a list."""
    viewport = pick_viewport(rng, 0.4)
    theme = pick_theme(rng)
    place = rng.choice(world.places)
    base = sample_nights(
        rng, World((place,), world.djs, world.vendors), rng.randint(1, 3), distinct_places=False
    )
    days = rng.sample(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"), len(base))
    nights = [spelled(rng, replace(n, day=day)) for n, day in zip(base, days, strict=True)]  # type: ignore[arg-type]
    items = "".join(
        f"<li style='margin:8px 0'><b>{esc(n.day.title())}s</b> &middot; {esc(n.text or '')}"
        + (f" <span class='muted'>{esc(dj_phrase(rng, n.dj))}</span>" if n.dj else "")
        + "</li>"
        for n in nights
    )
    subtitle = rng.choice(("Weekly Karaoke", "Karaoke Nights", "Upcoming Karaoke", "Sing Here"))
    body = (
        nav_bar(rng, rng.choice(_BRANDS), phone=viewport.phone)
        + f"<div class='wrap' style='max-width:760px'><h1>{esc(place.name)}</h1>"
        + f"<div class='muted'>{esc(rng.choice(NEIGHBOURHOODS))} &middot; {esc(place.tag)}</div>"
        + f"<div class='card' style='margin:14px 0'><h3>About This Venue</h3><p>{esc(rng.choice(_ABOUT))}</p>"
        + f"<p class='muted'>{esc(address_line(place))}</p></div>"
        + f"<h2>{esc(subtitle)}</h2><ul>{items}</ul>{button_row(rng, 2)}</div>"
    )
    truth = build_truth(nights, addressed={place.name})
    return Sample("venue-page", truth, html=page(theme, place.name, body), viewport=viewport)
