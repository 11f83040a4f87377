"""The parts of a web page around the schedule: themes, nav bars, banners, buttons, footers.

Everything here is UI chrome a careful reader ignores; it is drawn so the parser
learns to ignore it too. Text is HTML-escaped with ``esc``; fonts are system
fonts from the Debian packages the Makefile installs (Chromium falls back to
DejaVu when one is missing).
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

__all__ = ["Theme", "button_row", "cookie_banner", "esc", "footer", "nav_bar", "page", "pick_theme"]

BODY_FONTS: tuple[str, ...] = ("Lato", "Open Sans", "Roboto", "Liberation Sans", "Nimbus Sans", "DejaVu Sans")
DISPLAY_FONTS: tuple[str, ...] = ("Bebas Neue", "League Spartan", "Comfortaa", "Lobster Two", "Nimbus Sans")


@dataclass(frozen=True)
class Theme:
    """Colours and fonts of one page."""

    name: str
    background: str
    text: str
    muted: str
    card: str
    border: str
    accent: str
    body_font: str
    display_font: str


_PALETTES: dict[str, tuple[str, str, str, str, str]] = {
    "light": ("#f4f5f7", "#1d1f23", "#6b7280", "#ffffff", "#e2e5ea"),
    "dark": ("#121317", "#f1f1f4", "#a2a6b0", "#1f2128", "#30333c"),
}
_ACCENTS: tuple[str, ...] = ("#e0245e", "#7c3aed", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444")


def esc(text: str) -> str:
    """HTML-escaped text."""
    return html.escape(text, quote=True)


def pick_theme(rng: random.Random, name: str | None = None) -> Theme:
    """A light or dark theme with a random accent and fonts."""
    name = name or rng.choice(tuple(_PALETTES))
    background, text, muted, card, border = _PALETTES[name]
    return Theme(
        name, background, text, muted, card, border, rng.choice(_ACCENTS),
        rng.choice(BODY_FONTS), rng.choice(DISPLAY_FONTS),
    )  # fmt: skip


def _css(theme: Theme) -> str:
    return f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {theme.background}; color: {theme.text};
  font-family: '{theme.body_font}', 'DejaVu Sans', sans-serif; font-size: 16px; line-height: 1.4; }}
a {{ color: {theme.accent}; }}
.nav {{ display: flex; align-items: center; gap: 28px; padding: 14px 32px; background: {theme.card};
  border-bottom: 1px solid {theme.border}; }}
.nav.sticky {{ position: sticky; top: 0; z-index: 5; box-shadow: 0 2px 8px rgba(0,0,0,.2); }}
.brand {{ font-family: '{theme.display_font}', sans-serif; font-size: 26px; color: {theme.accent}; }}
.nav a {{ color: {theme.text}; text-decoration: none; font-size: 15px; }}
.wrap {{ max-width: 1500px; margin: 0 auto; padding: 24px 32px; }}
.muted {{ color: {theme.muted}; font-size: 14px; }}
.tag {{ display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px;
  background: {theme.border}; color: {theme.text}; margin-right: 6px; }}
.btn {{ display: inline-block; padding: 8px 14px; border: 2px solid {theme.accent}; border-radius: 6px;
  color: {theme.accent}; font-weight: 700; font-size: 13px; letter-spacing: .04em; margin: 4px 6px 0 0; }}
.card {{ background: {theme.card}; border: 1px solid {theme.border}; border-radius: 12px; padding: 18px; }}
.headline {{ font-family: '{theme.display_font}', sans-serif; font-size: 24px; font-weight: 700;
  text-transform: uppercase; color: {theme.accent}; margin: 6px 0; }}
h1, h2, h3 {{ margin: .3em 0; }}
h1 {{ font-family: '{theme.display_font}', sans-serif; font-size: 40px; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 10px 12px; border-bottom: 1px solid {theme.border};
  vertical-align: top; }}
th {{ color: {theme.muted}; font-size: 13px; text-transform: uppercase; letter-spacing: .05em; }}
.cookie {{ position: fixed; left: 0; right: 0; bottom: 0; padding: 18px 32px; background: #222831;
  color: #fff; display: flex; gap: 18px; align-items: center; z-index: 9; font-size: 14px; }}
.cookie .btn {{ background: #fff; color: #222831; border-color: #fff; }}
.footer {{ padding: 30px 32px; color: {theme.muted}; font-size: 13px; border-top: 1px solid {theme.border}; }}
.cancelled {{ text-decoration: line-through; opacity: .6; }}
.badge-cancel {{ color: #fff; background: #dc2626; padding: 2px 8px; border-radius: 4px; font-size: 12px;
  font-weight: 700; }}
"""


def page(theme: Theme, title: str, body: str, extra_css: str = "") -> str:
    """A whole HTML document in ``theme``."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{_css(theme)}{extra_css}</style></head><body>{body}</body></html>"
    )


NAV_ITEMS: tuple[str, ...] = ("Home", "Schedule", "Venues", "Book Us", "Photos", "Contact", "Events")


def nav_bar(rng: random.Random, brand: str, *, sticky: bool = False, phone: bool = False) -> str:
    """A site header: the brand and 3-6 links (a hamburger on a phone)."""
    links = rng.sample(NAV_ITEMS, rng.randint(3, 6))
    items = (
        "<span style='margin-left:auto;font-size:26px'>&#9776;</span>"
        if phone
        else "".join(f"<a href='#'>{esc(link)}</a>" for link in links)
    )
    return (
        f"<div class='nav{' sticky' if sticky else ''}'><span class='brand'>{esc(brand)}</span>{items}</div>"
    )


_COOKIE_TEXTS: tuple[str, ...] = (
    "We use cookies to improve your experience and to analyse traffic. By clicking Accept you agree.",
    "This site uses cookies. See our Privacy Policy for details.",
    "We value your privacy. We and our partners use cookies to personalise content and ads.",
)


def cookie_banner(rng: random.Random) -> str:
    """A consent banner pinned to the bottom of the window."""
    return (
        f"<div class='cookie'><span>{esc(rng.choice(_COOKIE_TEXTS))}</span>"
        "<span class='btn'>ACCEPT ALL</span><span class='btn'>MANAGE</span></div>"
    )


BUTTONS: tuple[str, ...] = ("FACEBOOK PAGE", "VISIT WEBSITE", "DIRECTIONS", "CALL", "MORE INFO", "SHARE")


def button_row(rng: random.Random, count: int = 2) -> str:
    """Two or so link buttons ('FACEBOOK PAGE', 'VISIT WEBSITE')."""
    return (
        "<div>" + "".join(f"<span class='btn'>{esc(b)}</span>" for b in rng.sample(BUTTONS, count)) + "</div>"
    )


def footer(rng: random.Random, brand: str) -> str:
    """A footer with copyright and links."""
    year = rng.choice((2025, 2026))
    return (
        f"<div class='footer'>&copy; {year} {esc(brand)} &middot; Privacy &middot; Terms &middot; "
        "Book a private party &middot; Follow us on Instagram</div>"
    )
