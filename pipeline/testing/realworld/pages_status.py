"""Listing pages whose show is decided by a line beside it: a status, a selected tab, a monthly rule.

Three families the rotation does not draw (``EXTRA_FAMILIES``), asked for by name:

- ``closed-cards``: a card grid where some cards say 'Closed: private event', 'No
  karaoke tonight' or 'CANCELLED' beside open ones. A closed card is no show (and
  its venue is not listed), whatever day or time it still prints.
- ``day-tabs``: a dark directory page with Mon..Sun tabs, one selected, over cards
  of a flyer thumbnail, the venue, the time and the host but no day: the selected
  tab gives it. The page marks the selected tab in words too (written in full, or a
  'Thursday karaoke' line under the tabs), except on some pages where only its
  colour does, as on real sites.
- ``ordinal-days``: a directory's venue list where some nights are on some weeks of
  the month ('Every 3rd Monday', 'Second and Fourth Friday', 'Last Thursday of the
  month') beside plain weekly ones; the truth keeps the weekday and the rule text.
"""

from __future__ import annotations

import random
from dataclasses import replace

from pipeline.schema import WEEKDAYS, Weekday
from pipeline.testing.realworld.chrome import Theme, button_row, esc, nav_bar, page, pick_theme
from pipeline.testing.realworld.pages_cards import pick_viewport, spelled
from pipeline.testing.realworld.pages_directory import NEIGHBOURHOODS
from pipeline.testing.realworld.phrases import address_line, day_label, dj_phrase, short_day
from pipeline.testing.realworld.sample import Sample, build_truth
from pipeline.testing.realworld.world import Night, World, sample_nights

__all__ = ["CLOSED_STATUSES", "render_closed_cards", "render_day_tabs", "render_ordinal_days"]

CLOSED_STATUSES: tuple[str, ...] = (
    "Closed: private event", "No karaoke tonight", "CANCELLED", "Closed for private party",
    "Cancelled this week", "CLOSED TONIGHT",
)  # fmt: skip
"""What a card says when its night is off: the card is no show."""
_OPEN_STATUSES: tuple[str, ...] = ("Open", "Tonight", "On", "")
_BRANDS: tuple[str, ...] = ("SingFinder", "KJ Map", "Mic Night", "Karaoke Scene")


def _closed_card(rng: random.Random, night: Night, theme: Theme) -> str:
    status = rng.choice(CLOSED_STATUSES)
    badge = (
        f"<div style='display:inline-block;margin:6px 0;padding:3px 10px;border-radius:6px;"
        f"background:#dc2626;color:#fff;font-weight:700;font-size:13px'>{esc(status)}</div>"
    )
    when = esc(day_label(rng, night.day))
    if rng.random() < 0.4:  # the time still printed, struck through
        when += f" <span class='cancelled'>{esc(night.text or '')}</span>"
    parts = [f"<h3>{esc(night.place.name)}</h3>", f"<div style='font-weight:700'>{when}</div>", badge]
    if rng.random() < 0.5:
        parts[1:] = [badge, parts[1]]
    return f"<div class='card' style='opacity:.75;border-color:{theme.border}'>" + "".join(parts) + "</div>"


def _open_card(rng: random.Random, night: Night, addressed: bool) -> str:
    status = rng.choice(_OPEN_STATUSES)
    badge = (
        f"<div style='display:inline-block;margin:6px 0;padding:3px 10px;border-radius:6px;"
        f"background:#16a34a;color:#fff;font-weight:700;font-size:13px'>{esc(status)}</div>"
        if status
        else ""
    )
    when = f"{esc(day_label(rng, night.day))} &middot; {esc(night.text or '')}"
    host = f"<div>{esc(dj_phrase(rng, night.dj))}</div>" if night.dj else ""
    street = f"<div class='muted'>{esc(address_line(night.place))}</div>" if addressed else ""
    return (
        f"<div class='card'><h3>{esc(night.place.name)}</h3>{badge}"
        f"<div style='font-weight:700'>{when}</div>{host}{street}</div>"
    )


def render_closed_cards(rng: random.Random, world: World) -> Sample:
    """A card grid where one to three cards are closed or cancelled beside open ones."""
    viewport = pick_viewport(rng, 0.35)
    theme = pick_theme(rng, "dark" if rng.random() < 0.6 else "light")
    columns = 1 if viewport.phone else rng.choice((2, 3, 4))
    nights = [spelled(rng, n) for n in sample_nights(rng, world, rng.randint(4, 9))]
    closed = set(rng.sample(range(len(nights)), rng.randint(1, min(3, len(nights) - 2))))
    nights = [replace(n, cancelled=True) if i in closed else n for i, n in enumerate(nights)]
    addressed = {n.place.name for n in nights if not n.cancelled and rng.random() < 0.5}
    cards = "".join(
        _closed_card(rng, n, theme) if n.cancelled else _open_card(rng, n, n.place.name in addressed)
        for n in nights
    )
    vendor = rng.choice(world.vendors) if rng.random() < 0.5 else None
    brand = vendor or rng.choice(_BRANDS)
    title = rng.choice(("This Week's Karaoke", "Karaoke Schedule", "Shows This Week"))
    body = (
        nav_bar(rng, brand, phone=viewport.phone)
        + f"<div class='wrap'><h1>{esc(title)}</h1>"
        + f"<div style='display:grid;grid-template-columns:repeat({columns},1fr);gap:18px'>"
        + f"{cards}</div></div>"
    )
    truth = build_truth(nights, vendor=vendor, addressed=addressed)
    return Sample("closed-cards", truth, html=page(theme, title, body), viewport=viewport)


def _tabs(rng: random.Random, selected: Weekday, theme: Theme, marked: str) -> str:
    tabs = []
    for day in WEEKDAYS:
        label = short_day(day)
        style = "padding:8px 14px;border-radius:8px;font-weight:700;"
        if day == selected:
            label = day.upper() if marked == "full" else label
            style += f"background:{theme.accent};color:#fff;"
        else:
            style += f"color:{theme.muted};"
        tabs.append(f"<span style='{style}'>{esc(label)}</span>")
    return "<div style='display:flex;flex-wrap:wrap;gap:6px;margin:12px 0'>" + "".join(tabs) + "</div>"


def _thumbnail(rng: random.Random, theme: Theme) -> str:
    """A flyer thumbnail: a gradient with a big word on it, as a listing app shows a venue's flyer."""
    word = rng.choice(("KARAOKE", "SING!", "KJ NIGHT", "KARAOKE"))
    return (
        f"<div style='height:120px;border-radius:8px;margin-bottom:10px;display:flex;align-items:center;"
        f"justify-content:center;background:linear-gradient(135deg,{theme.accent},#1b1b2f);color:#fff;"
        f'font-family:"{theme.display_font}",sans-serif;font-size:34px;letter-spacing:.05em\'>{word}</div>'
    )


def render_day_tabs(rng: random.Random, world: World) -> Sample:
    """Day tabs (one selected) over cards that give venue, time and host but not the day."""
    viewport = pick_viewport(rng, 0.45)
    theme = pick_theme(rng, "dark")
    selected: Weekday = rng.choice(WEEKDAYS)
    nights = [spelled(rng, n) for n in sample_nights(rng, world, rng.randint(3, 9), days=(selected,))]
    marked = rng.choices(("full", "heading", "colour"), weights=(0.4, 0.35, 0.25))[0]
    cards = []
    for night in nights:
        host = f"<div>{esc(rng.choice(('KJ', 'DJ', 'Host:')))} {esc(night.dj)}</div>" if night.dj else ""
        area = f"<div class='muted'>{esc(rng.choice(NEIGHBOURHOODS))}</div>" if rng.random() < 0.5 else ""
        cards.append(
            f"<div class='card'>{_thumbnail(rng, theme)}<h3>{esc(night.place.name)}</h3>{area}"
            f"<div style='font-weight:700'>{esc(night.text or '')}</div>{host}</div>"
        )
    heading = ""
    if marked == "heading":
        name = selected.title()
        heading = rng.choice((f"{name} karaoke", f"Showing {name}", name))
        heading = f"<h2>{esc(heading)} <span class='muted'>&middot; {len(nights)} shows</span></h2>"
    columns = 1 if viewport.phone else rng.choice((2, 3, 4))
    body = (
        nav_bar(rng, rng.choice(_BRANDS), phone=viewport.phone)
        + f"<div class='wrap'>{_tabs(rng, selected, theme, marked)}{heading}"
        + f"<div style='display:grid;grid-template-columns:repeat({columns},1fr);gap:16px'>"
        + "".join(cards)
        + "</div></div>"
    )
    truth = build_truth(nights)
    return Sample("day-tabs", truth, html=page(theme, "Karaoke", body), viewport=viewport)


_ORDINALS: tuple[tuple[str, str], ...] = (
    ("1st", "First"), ("2nd", "Second"), ("3rd", "Third"), ("4th", "Fourth"),
)  # fmt: skip


def ordinal_rule(rng: random.Random, day: Weekday) -> str:
    """Some weeks of the month: 'Every 3rd Monday', 'Second and Fourth Friday', 'Last Thursday of the month'.

    The weekday stays ``day``; the rule is kept as written (the truth's description).
    """
    first, second = sorted(rng.sample(range(4), 2))
    short, long_ = _ORDINALS[first]
    name = day.title()
    return rng.choice(
        (
            f"Every {short} {name}",
            f"{long_} and {_ORDINALS[second][1]} {name}",
            f"{short} & {_ORDINALS[second][0]} {name}s",
            f"Last {name} of the month",
            f"{long_} {name} of every month",
        )
    )


def render_ordinal_days(rng: random.Random, world: World) -> Sample:
    """A directory's venue list: each venue's address and nights, some monthly, some weekly."""
    viewport = pick_viewport(rng, 0.4)
    theme = pick_theme(rng)
    nights: list[Night] = []
    for place_night in sample_nights(rng, world, rng.randint(3, 5)):
        place = place_night.place
        days = rng.sample(WEEKDAYS, rng.randint(1, 2))
        for day in days:
            night = spelled(rng, replace(place_night, day=day))
            rule = ordinal_rule(rng, day) if rng.random() < 0.6 else None
            nights.append(replace(night, rule=rule))
    blocks = []
    for place in dict.fromkeys(n.place for n in nights):
        rows = "".join(
            f"<li style='margin:6px 0'><b>{esc(n.rule or day_label(rng, n.day))}</b> &middot; "
            f"{esc(n.text or '')}{' &middot; ' + esc(dj_phrase(rng, n.dj)) if n.dj else ''}</li>"
            for n in nights
            if n.place == place
        )
        blocks.append(
            f"<div class='card' style='margin-bottom:14px'><h3>{esc(place.name)}</h3>"
            f"<div class='muted'>{esc(address_line(place))}</div><ul>{rows}</ul>{button_row(rng, 1)}</div>"
        )
    title = rng.choice(("Karaoke Venues", "Where to Sing", "Venue Directory"))
    body = (
        nav_bar(rng, rng.choice(_BRANDS), phone=viewport.phone)
        + f"<div class='wrap' style='max-width:900px'><h1>{esc(title)}</h1>{''.join(blocks)}</div>"
    )
    truth = build_truth(nights, addressed={n.place.name for n in nights})
    return Sample("ordinal-days", truth, html=page(theme, title, body), viewport=viewport)
