"""Assembly on hand-made drafts: one show per day, each venue and DJ once, confidence by what is missing."""

from __future__ import annotations

import datetime as dt

from pipeline.backends.local.assembly import assemble, no_shows
from pipeline.backends.local.readers.drafts import Draft, Page
from pipeline.backends.local.tagging.fields import read_fields

TODAY = dt.date(2026, 11, 28)
PAGE = Page(vendor="Star Sound", karaoke=False, venue=None)
TWO_NIGHTS = Draft(
    read_fields("Mon & Wed The Rusty Nail 9pm-1am with DJ Mike", TODAY), 1.0, karaoke_line=True
)
WITH_ADDRESS = Draft(
    read_fields("Friday The Rusty Nail 123 Main St, Columbus, OH 43215 (614) 555-0100 8pm", TODAY),
    0.8,
    borrowed_venue=True,
)
NO_TIME = Draft(read_fields("Saturday Harbor House", TODAY), 1.0)


def test_one_show_per_day_and_a_draft_without_a_time_is_no_show() -> None:
    schedule = assemble([TWO_NIGHTS, WITH_ADDRESS, NO_TIME], PAGE)
    assert [(s.venue_name, s.day, s.start_time, s.end_time, s.dj_name, s.vendor) for s in schedule.shows] == [
        ("The Rusty Nail", "monday", "21:00", "01:00", "Mike", "Star Sound"),
        ("The Rusty Nail", "wednesday", "21:00", "01:00", "Mike", "Star Sound"),
        ("The Rusty Nail", "friday", "20:00", None, None, "Star Sound"),
    ]


def test_each_venue_dj_and_vendor_once_the_venue_with_its_address() -> None:
    schedule = assemble([TWO_NIGHTS, WITH_ADDRESS, NO_TIME], PAGE)
    assert [(v.name, v.address, v.city, v.state, v.zip, v.phone) for v in schedule.venues] == [
        ("The Rusty Nail", "123 Main St", "Columbus", "OH", "43215", "(614) 555-0100")
    ]
    assert [(dj.name, dj.aliases) for dj in schedule.djs] == [("Mike", ["DJ Mike"])]
    assert [vendor.name for vendor in schedule.vendors] == ["Star Sound"]


def test_confidence_drops_for_what_is_missing_or_borrowed() -> None:
    shows = assemble([TWO_NIGHTS, WITH_ADDRESS], PAGE).shows
    assert shows[0].confidence == 0.9  # all there, a karaoke line
    # 0.9 * 0.8, less 0.05 (no DJ), 0.2 (venue borrowed), 0.2 (nothing says karaoke)
    assert shows[2].confidence == 0.27
    karaoke_page = Page(vendor=None, karaoke=True, venue=None)
    assert assemble([WITH_ADDRESS], karaoke_page).shows[0].confidence == 0.47


def test_a_page_about_other_events_keeps_only_its_vendor() -> None:
    schedule = no_shows(PAGE)
    assert schedule.shows == [] and [vendor.name for vendor in schedule.vendors] == ["Star Sound"]
    assert no_shows(Page(vendor=None, karaoke=False, venue=None)).vendors == []
