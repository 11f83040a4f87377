"""A realistic corpus: browser-rendered web pages, busy flyers and traps, with truth from the generator.

Web pages (card grids, week views, A-Z listings, schedule tables, venue panes
and modals, social posts, link-in-bio pages) are HTML/CSS templates filled from
the generator's data and captured by Debian's Chromium through playwright, on
desktop (1280-1920 px) and phone (390 px @3x) viewports, often full-page.
Flyers and traps are drawn with Pillow. Every image's truth (in the
``truth.json`` format ``karaoke-pipeline eval`` reads, plus a ``family``) is the
data the image was built from, never OCR.

Two seeded splits: ``dev`` (generate on demand, tune on it) and ``test``
(frozen and committed under ``corpus/realworld-test/``; never tune on it)::

    python -m pipeline.testing.realworld --split dev --out /tmp/rw-dev [--seed N] [--count N]
"""
