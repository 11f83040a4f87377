"""One generated image before it is written: its family, how to draw it, and its truth."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from pipeline.schema import Dj, ParsedSchedule, Show, Vendor, Venue
from pipeline.testing.realworld.world import Night, Place

__all__ = ["DESKTOP_WIDTHS", "PHONE", "Sample", "Viewport", "build_truth"]


@dataclass(frozen=True)
class Viewport:
    """A browser window: CSS pixels, device scale and whether it is a phone."""

    width: int
    height: int
    scale: float = 1.0
    phone: bool = False
    full_page: bool = True


PHONE = Viewport(width=390, height=844, scale=3.0, phone=True)
DESKTOP_WIDTHS: tuple[int, ...] = (1280, 1366, 1440, 1600, 1920)


@dataclass(frozen=True)
class Sample:
    """A page for the browser (``html`` + ``viewport``) or a drawn ``image``, with its truth.

    ``fmt`` and ``quality`` say how the image is saved (``jpeg`` for flyers and
    photos, as phones forward them); ``captured`` is an EXIF DateTimeOriginal.
    """

    family: str
    truth: ParsedSchedule
    html: str | None = None
    viewport: Viewport | None = None
    image: Image.Image | None = None
    fmt: Literal["png", "jpeg"] = "png"
    quality: int = 90
    captured: str | None = None


def _venue(place: Place, address_shown: bool) -> Venue:
    if not address_shown:
        return Venue(name=place.name)
    return Venue(name=place.name, address=place.street, city=place.city, state=place.state, zip=place.zip)


def build_truth(
    nights: Sequence[Night],
    *,
    vendor: str | None = None,
    addressed: Iterable[str] = (),
    extra_venues: Sequence[Place] = (),
) -> ParsedSchedule:
    """The truth of drawn nights: cancelled ones dropped, venues with the address only if drawn.

    ``addressed`` names the venues whose street, city, state and zip the image
    shows; ``extra_venues`` are venues the image names without any show.
    """
    shown_addresses = set(addressed)
    venues: dict[str, Venue] = {}
    djs: dict[str, Dj] = {}
    shows: list[Show] = []
    for night in nights:
        if night.cancelled:
            continue
        venues.setdefault(night.place.name, _venue(night.place, night.place.name in shown_addresses))
        if night.dj:
            djs.setdefault(night.dj, Dj(name=night.dj))
        shows.append(
            Show(
                venue_name=night.place.name,
                day=night.day,
                date=night.date,
                start_time=night.start,
                end_time=night.end,
                time=night.text,
                dj_name=night.dj,
                vendor=vendor,
                description=night.rule,
            )
        )
    for place in extra_venues:
        venues.setdefault(place.name, _venue(place, place.name in shown_addresses))
    vendors = [Vendor(name=vendor)] if vendor else []
    return ParsedSchedule(vendors=vendors, venues=list(venues.values()), djs=list(djs.values()), shows=shows)
