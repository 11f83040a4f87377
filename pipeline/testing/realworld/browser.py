"""Render generated HTML pages to PNG in Debian's headless Chromium, through playwright.

Never a browser download: the executable is ``/usr/bin/chromium`` (``apt-get
install chromium``; ``make install`` / ``.ci/run`` install it with the fonts).
The pages load nothing from the network: every style is inline.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pipeline.testing.realworld.sample import Viewport

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PageRenderer",
    "TextBox",
    "chromium_available",
    "open_box_renderer",
    "open_renderer",
]

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


TextBox = tuple[str, float, float, float, float]
"""One line of a text node as laid out: its text and box (x0, y0, x1, y1) in the capture's pixels."""

# Every text node's line boxes (a wrapped headline gives one box per line), in CSS pixels of the
# document; hidden and empty nodes are skipped. The text is the node's source text (before
# ``text-transform``), which is what the generator's data knows.
_TEXT_BOXES_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (!text) continue;
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width < 1 || r.height < 1) continue;
      out.push([text, r.left + window.scrollX, r.top + window.scrollY, r.right + window.scrollX,
                r.bottom + window.scrollY]);
    }
  }
  return out;
}"""


class PageRenderer(Protocol):
    """Turns one HTML document into PNG bytes at a viewport."""

    def __call__(self, html: str, viewport: Viewport) -> bytes: ...


def chromium_available() -> bool:
    """Whether Debian's Chromium is installed where the renderer looks for it."""
    return Path(CHROMIUM).exists()


def _screenshot(browser: Any, html: str, viewport: Viewport) -> bytes:
    return _capture(browser, html, viewport, boxes=False)[0]


def _capture(browser: Any, html: str, viewport: Viewport, *, boxes: bool) -> tuple[bytes, list[TextBox]]:
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
        if not boxes:
            return shot, []
        scale = viewport.scale
        found = [
            (str(text), x0 * scale, y0 * scale, x1 * scale, y1 * scale)
            for text, x0, y0, x1, y1 in tab.evaluate(_TEXT_BOXES_JS)
        ]
        return shot, found
    finally:
        context.close()


@contextmanager
def open_renderer() -> Iterator[PageRenderer]:
    """One Chromium for many pages; each page gets a fresh context (viewport, scale).

    Raises:
        RuntimeError: Chromium or playwright is missing (say how to install them).
    """
    with _browser() as browser:
        yield lambda html, viewport: _screenshot(browser, html, viewport)


@contextmanager
def open_box_renderer() -> Iterator[Callable[[str, Viewport], tuple[bytes, list[TextBox]]]]:
    """Like ``open_renderer``, but each capture also gives its text boxes (labelled line roles).

    The PNG is the same capture ``open_renderer`` makes; the boxes are read after it.
    """
    with _browser() as browser:
        yield lambda html, viewport: _capture(browser, html, viewport, boxes=True)


@contextmanager
def _browser() -> Iterator[Any]:
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
            yield browser
        finally:
            browser.close()
