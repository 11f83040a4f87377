"""UI chrome, consent banners, tags and vendor badges (pipeline/backends/local/tagging/chrome.py)."""

from __future__ import annotations

import pytest

from pipeline.backends.local.tagging.chrome import is_chrome, is_overlay, vendor_badge


@pytest.mark.parametrize(
    "text",
    ["FACEBOOK PAGE", "VENUE WEBSITE", "Book Us", "Home", "MORE INFO", "Sports Bar", "Dedicated", "Ste 600",
     "We use cookies to improve your experience.", "ACCEPT ALL", "© 2026 Star Karaoke · Privacy",
     "MOREINFO", "FACEBOOKPAGE", "VIEWDETAILS", "karaokenearme.com", "www.mikeyskaraoke.net"],
)  # fmt: skip
def test_chrome_is_recognised(text: str) -> None:
    assert is_chrome(text)


@pytest.mark.parametrize(
    "text",
    ["Steve", "The Rusty Nail", "BY", "Time", "Host", "Venue", "Close", "Kelley's Pub", "MONDAY 9PM",
     "Rooftop", "Morehouse", "Backup"],
)  # fmt: skip
def test_content_and_table_headers_are_not_chrome(text: str) -> None:
    assert not is_chrome(text)


def test_only_consent_text_is_an_overlay() -> None:
    assert is_overlay("This site uses cookies. See our Privacy Policy") and is_overlay("MANAGE")
    assert not is_overlay("FACEBOOK PAGE")


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("Mike's Karaoke", "Mike's Karaoke"),
        ("Karaoke by Star Sound Entertainment", "Star Sound Entertainment"),
        ("Presented by Star Sound Entertainment", "Star Sound Entertainment"),
        ("Neon Nights Karaoke", "Neon Nights Karaoke"),
        ("Karaoke by Dana", "Dana"),
        ("Presented by KJ Steve", None),  # a host, not a company
        ("Hosted by Steve", None),
        ("Weekly Karaoke", None),
        ("Tuesday Karaoke", None),
        ("The Rusty Nail", None),
        ("Karaoke by | 4985 Harbor Blvd", None),  # a stacked logo's first line beside the street
    ],
)
def test_vendor_badges(text: str, vendor: str | None) -> None:
    assert vendor_badge(text) == vendor
