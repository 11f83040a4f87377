"""Render generated HTML pages to PNG in Debian's headless Chromium, through playwright.

Never a browser download: the executable is ``/usr/bin/chromium`` (``apt-get
install chromium``; ``make install`` / ``.ci/run`` install it with the fonts).
The pages load nothing from the network: every style is inline.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pipeline.testing.realworld.sample import Viewport

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PageRenderer", "chromium_available", "open_renderer"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--font-render-hinting=none",
)


class PageRenderer(Protocol):
    """Turns one HTML document into PNG bytes at a viewport."""

    def __call__(self, html: str, viewport: Viewport) -> bytes: ...


def chromium_available() -> bool:
    """Whether Debian's Chromium is installed where the renderer looks for it."""
    return Path(CHROMIUM).exists()


def _screenshot(browser: Any, html: str, viewport: Viewport) -> bytes:
    context = browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=viewport.scale,
        is_mobile=viewport.phone,
        has_touch=viewport.phone,
    )
    try:
        tab = context.new_page()
        tab.set_content(html, wait_until="load")
        tab.evaluate("document.fonts.ready")
        shot: bytes = tab.screenshot(full_page=viewport.full_page, type="png")
        return shot
    finally:
        context.close()


@contextmanager
def open_renderer() -> Iterator[PageRenderer]:
    """One Chromium for many pages; each page gets a fresh context (viewport, scale).

    Raises:
        RuntimeError: Chromium or playwright is missing (say how to install them).
    """
    if not chromium_available():
        raise RuntimeError(f"Debian's chromium is not at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise RuntimeError("playwright is missing: pip install -e '.[test]'") from exc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield lambda html, viewport: _screenshot(browser, html, viewport)
        finally:
            browser.close()
