"""What a page or a region names once, above its shows: a venue heading, a vendor credit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pipeline.backends.local.layout.rows import Row
from pipeline.backends.local.readers.drafts import Page, Reading
from pipeline.backends.local.tagging.fields import LineFields, is_sentence, is_title, vendor_name
from pipeline.backends.local.tagging.words import mentions_karaoke, mentions_other_event

__all__ = ["is_heading", "read_page", "venue_heading"]

_NEAR_TITLE_SIZE = 0.75  # a name nearer the street in at least this share of the tallest's type wins


def is_heading(row: Row) -> bool:
    """Rows that frame the schedule (titles, vendor credits), never part of a show."""
    return is_title(row.text) or vendor_name(row.text) is not None


def venue_heading(rows: Sequence[Row], ref: Reading) -> LineFields:
    """A venue named above the first show ('Oties Tavern & Grill' over its weekly nights).

    Of the name lines above the first show, those over a street or phone line come
    first, and of them the one nearest the street wins unless its type is much smaller (a
    pane's title under a site's brand name, which may sit two lines above the street too,
    in larger type on a phone); else the first in the largest type. A name over running text
    under a larger name is a section's heading ('About This Venue' under the venue's title),
    never the one over the street. Its address and phone are taken from the rows under it.
    """
    candidates: list[tuple[Row, LineFields]] = []
    introduces: set[int] = set()  # candidates right over a paragraph line
    paragraph = [_in_paragraph(row) for row in rows]
    for index, row in enumerate(rows):
        if (
            is_heading(row)
            or row.text.rstrip().endswith((":", "!"))
            or mentions_karaoke(row.text)
            or paragraph[index]
        ):
            continue
        fields = ref.fields(row.text)
        if fields.has_days or mentions_other_event(row.text):
            break
        if paragraph[index + 1 : index + 2] == [True]:
            introduces.add(len(candidates))
        candidates.append((row, fields))
    named = [(row, fields) for row, fields in candidates if fields.venue]
    if not named:
        return LineFields()
    anchored = [
        index
        for index, (_, fields) in enumerate(candidates)
        if fields.venue
        and not fields.address
        and any(f.address or f.phone for _, f in candidates[index + 1 : index + 3])
        and not (
            index in introduces
            and any(f.venue and r.height > candidates[index][0].height for r, f in candidates[:index])
        )
    ]
    tallest = max(row.height for row, fields in named)
    near = [index for index in anchored if candidates[index][0].height >= _NEAR_TITLE_SIZE * tallest]
    if near:  # right above the street unless in much smaller type ('Food' under the title)
        chosen = near[-1]
    else:  # else the first in the largest type: a title over its 'About' box
        chosen = next(
            index
            for index, (row, fields) in enumerate(candidates)
            if fields.venue and row.height >= 0.9 * tallest
        )
    heading = candidates[chosen][1]
    for _, fields in candidates[chosen + 1 :]:
        heading = replace(
            heading, address=heading.address or fields.address, phone=heading.phone or fields.phone
        )
    return replace(heading, notes=())


def _in_paragraph(row: Row) -> bool:
    """A line of running text ('A neighbourhood bar with cold beer, ...') or its wrapped tail
    ('systems in town.'): a description, never a name. Names start in capitals."""
    text = row.text.lstrip(" \u2022\u00b7-*\"'(")
    return is_sentence(text) or text[:1].islower()


def read_page(rows: Sequence[Row], ref: Reading, *, karaoke: bool) -> Page:
    """What the page says once: its vendor, its venue heading; ``karaoke`` comes from the tags."""
    vendors = [name for row in rows if (name := vendor_name(row.text))]
    heading = venue_heading(rows, ref)
    return Page(vendors[0] if vendors else None, karaoke, heading.venue, heading)
