"""Assembly: draft shows into a ParsedSchedule, one show per day, each venue, DJ and vendor once."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.addresses import normalize_phone
from pipeline.backends.local.readers.drafts import Draft, Page
from pipeline.backends.local.tagging.fields import LineFields
from pipeline.clean import dj_key, venue_key
from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue, Weekday

__all__ = ["assemble", "no_shows"]


def _confidence(draft: Draft, page: Page) -> float:
    """Lower when parts are missing, the venue was borrowed or nothing says karaoke."""
    confidence = 0.9 * draft.score
    if draft.fields.time is None:
        confidence -= 0.25
    if draft.fields.dj is None:
        confidence -= 0.05
    if draft.borrowed_venue:
        confidence -= 0.2
    if not (page.karaoke or draft.karaoke_line or draft.fields.dj):
        confidence -= 0.2
    return round(min(max(confidence, 0.05), 1.0), 3)


def _shows(draft: Draft, page: Page) -> list[Show]:
    fields = draft.fields
    days: Sequence[Weekday | None] = fields.days or (None,)
    return [
        Show(
            venue_name=fields.venue or "",
            day=day,
            date=fields.date,
            start_time=fields.time.start if fields.time else None,
            end_time=fields.time.end if fields.time else None,
            time=fields.time.text if fields.time else None,
            dj_name=fields.dj,
            vendor=page.vendor,
            description="; ".join(fields.notes) or None,
            confidence=_confidence(draft, page),
        )
        for day in days
    ]


def _venue(fields: LineFields, confidence: float) -> Venue:
    address = fields.address
    return Venue(
        name=fields.venue or "",
        address=address.street if address else None,
        city=address.city if address else None,
        state=address.state if address else None,
        zip=address.zip if address else None,
        phone=normalize_phone(fields.phone) if fields.phone else None,
        confidence=confidence,
    )


def assemble(drafts: Sequence[Draft], page: Page) -> ParsedSchedule:
    """Shows, one per day, plus the venues, DJs and vendor they mention (each once)."""
    shows: list[Show] = []
    venues: dict[str, Venue] = {}
    djs: dict[str, Dj] = {}
    for draft in drafts:
        if not draft.fields.venue or draft.fields.time is None:
            continue  # a show needs a venue and a time; a day alone is a hint ('Also every day')
        made = _shows(draft, page)
        shows += made
        venue = _venue(draft.fields, made[0].confidence)
        if venue.address or venue_key(venue.name) not in venues:
            venues[venue_key(venue.name)] = venue
        if draft.fields.dj and dj_key(draft.fields.dj) not in djs:
            seen = draft.fields.dj_as_seen
            aliases = [seen] if seen and seen != draft.fields.dj else []
            djs[dj_key(draft.fields.dj)] = Dj(name=draft.fields.dj, aliases=aliases, confidence=0.8)
    vendors = [Vendor(name=page.vendor, confidence=0.8)] if page.vendor else []
    return ParsedSchedule(vendors=vendors, venues=list(venues.values()), djs=list(djs.values()), shows=shows)


def no_shows(page: Page) -> ParsedSchedule:
    """A page about other events and not karaoke: no shows, only the vendor it credits."""
    return ParsedSchedule(vendors=[Vendor(name=page.vendor)] if page.vendor else [])
