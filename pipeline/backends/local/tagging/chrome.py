"""Lines a web page or flyer carries that are never part of a show: UI chrome, tags, badges.

Navigation items, buttons and links ('FACEBOOK PAGE', 'VENUE WEBSITE', 'Book Us'),
consent banners, category tags ('Sports Bar', 'Dedicated'), a suite number on its
own line ('Ste 600') and table headers read alone ('Time') are dropped before the
parser looks for venues. Vendor badges ("Mike's Karaoke", 'Karaoke by Star Sound',
'Presented by Star Sound Entertainment') name the karaoke company, never a venue;
'Presented by KJ Steve' or 'Hosted by Steve' names the host instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.words import is_header_text
from pipeline.clean import clean_name

__all__ = ["is_chrome", "is_overlay", "is_ui_words", "tag_row_mates", "vendor_badge"]

_UI_WORDS = frozenset(
    [
        "home",
        "about",
        "contact",
        "us",
        "book",
        "hosts",
        "host",
        "events",
        "event",
        "schedule",
        "schedules",
        "calendar",
        "map",
        "maps",
        "menu",
        "directions",
        "direction",
        "call",
        "now",
        "more",
        "info",
        "information",
        "learn",
        "view",
        "details",
        "detail",
        "share",
        "save",
        "follow",
        "visit",
        "website",
        "site",
        "page",
        "facebook",
        "instagram",
        "twitter",
        "tiktok",
        "youtube",
        "x",
        "get",
        "tickets",
        "ticket",
        "rsvp",
        "sign",
        "up",
        "in",
        "log",
        "login",
        "logout",
        "subscribe",
        "search",
        "filter",
        "filters",
        "sort",
        "by",
        "list",
        "grid",
        "back",
        "next",
        "previous",
        "prev",
        "all",
        "see",
        "venues",
        "venue",
        "locations",
        "location",
        "join",
        "register",
        "faq",
        "blog",
        "shop",
        "gallery",
        "photos",
        "reviews",
        "review",
        "order",
        "online",
        "apply",
        "clear",
        "reset",
        "submit",
        "send",
        "message",
        "email",
        "newsletter",
        "privacy",
        "terms",
        "policy",
        "settings",
        "account",
        "profile",
        "favorites",
        "favorite",
        "add",
        "to",
        "here",
        "click",
        "tap",
        "read",
        "show",
        "hide",
        "djs",
        "kjs",
        "dj",
        "kj",
        "our",
        "team",
        "pricing",
        "rates",
        "request",
        "song",
        "songs",
        "songbook",
        "app",
        "download",
    ]
)
_CONSENT_BUTTONS = frozenset(
    {
        "accept", "decline", "reject", "manage", "agree", "allow", "deny", "preferences", "customize",
        "customise", "settings", "options", "necessary", "only", "all", "cookies", "got", "it", "ok",
        "okay", "dismiss",
    }
)  # fmt: skip
_FUNCTION_WORDS = frozenset(
    [
        "by",
        "in",
        "up",
        "to",
        "all",
        "x",
        "here",
        "add",
        "our",
        "now",
        "more",
        "see",
        "show",
        "hide",
        "read",
        "back",
        "next",
        "get",
        "us",
        "log",
        "sign",
        "click",
        "tap",
    ]
)
_WEB_ADDRESS = re.compile(
    r"^(?:https?://)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|us|app|biz|info)(?:/\S*)?$",
    re.IGNORECASE,
)  # 'karaokenearme.com' on a phone's address bar
_LINK_END = re.compile(r"\b(?:website|web\s*site|page|menu|directions|profile|link|url)\s*[>»→]?$", re.I)
_CONSENT = re.compile(
    r"\bcookies?\b|\bconsent\b|privacy\s+policy|accept\s+all|\bgdpr\b|terms\s+of\s+(?:use|service)"
    r"|all\s+rights\s+reserved|\u00a9|\(c\)\s*\d{4}",
    re.IGNORECASE,
)
_LONGEST_UI_WORD = max(len(word) for word in _UI_WORDS)
_MIN_GLUED_LENGTH = 7  # shorter glued pairs ('backup', 'signup') are words of their own
_MIN_MISREAD_LENGTH = 6  # a word this long one letter off a UI word is that word misread
_MIN_MISREAD_TAG = 7  # ... and a tag this long one letter off a known tag ('tavern' may be 'taverna')

_TAGS = frozenset(
    {
        "sports bar", "dive bar", "dedicated", "restaurant", "brewery", "nightclub", "club", "lounge",
        "pub", "bar", "tavern", "bar & grill", "family friendly", "21+", "18+", "all ages", "open now",
        "closed now", "new", "featured", "popular", "weekly", "monthly", "one-time", "one time",
        "free", "no cover", "free entry", "patio", "smoking", "non-smoking", "live",
        "recurring", "special event", "verified", "hotel bar", "casino", "bowling", "dedicated venue",
    }
)  # fmt: skip
_CHIP_TEXT = re.compile(r"^[A-Za-z][A-Za-z&'-]*(?:\s+[A-Za-z&'-]+)?$")  # a word or two, no digits
_CHIP_GAP = 1.0  # chips of one row sit at most this many text heights apart
_CHIP_MAX_CHARS = 14
_HOST_CHIP = re.compile(r"^(?:dj|kj|vj|mc|host:?)\s+\S", re.IGNORECASE)  # a host credit set as a chip
_SUITE = re.compile(
    r"^(?:ste|suite|unit|apt|bldg|floor|fl)(?:\.\s*|\s+)#?\s*\d\w{0,4}$|^#\s*\d{1,5}$", re.IGNORECASE
)
_COMPANY = re.compile(
    r"\b(?:entertainment|karaoke|productions?|sound|audio|music|djs|events|llc|inc|co|company"
    r"|services|promotions|media|group|enterprises)\b\.?",
    re.IGNORECASE,
)
_POSSESSIVE_BADGE = re.compile(
    r"^(?P<name>[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2}['\u2019`]s\s+karaoke)\b", re.IGNORECASE
)
_SUFFIX_BADGE = re.compile(
    r"^(?P<name>(?:[A-Z][\w.&'-]*\s+){0,3}karaoke\s+(?:entertainment|productions?|company|co|djs"
    r"|services|events|promotions))\.?$",
    re.IGNORECASE,
)
# A company's name badge: 'Star Karaoke', 'Neon Nights Karaoke' (not 'Weekly Karaoke', 'Tuesday Karaoke').
_NAMED_BADGE = re.compile(r"^(?P<name>(?:[A-Z][\w'&.-]*\s+){1,3}karaoke)!?$", re.IGNORECASE)
_NOT_A_NAME = frozenset(
    [
        "weekly",
        "nightly",
        "live",
        "tonight",
        "our",
        "the",
        "this",
        "next",
        "every",
        "all",
        "free",
        "open",
        "sing",
        "come",
        "join",
        "best",
        "great",
        "big",
        "night",
        "nights",
        "party",
        "friday",
        "saturday",
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "fridays",
        "saturdays",
        "sundays",
        "mondays",
        "tuesdays",
        "wednesdays",
        "thursdays",
        "weekend",
        "late",
        "private",
    ]
)
_CREDIT = re.compile(
    r"^(?:(?:karaoke|music|entertainment|sound|hosted|sponsored|dj\s+services?)\s+)?"
    r"(?:by|brought\s+to\s+you\s+by|presented\s+by|powered\s+by|courtesy\s+of|hosted\s+by)\s+(?P<name>.+)$",
    re.IGNORECASE,
)


def _glued_ui_words(word: str) -> list[str] | None:
    """A word OCR glued from button words ('moreinfo' -> 'more', 'info'), else None."""
    if len(word) < _MIN_GLUED_LENGTH:
        return None
    splits: dict[int, list[str]] = {0: []}  # prefix length -> the words it splits into
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - _LONGEST_UI_WORD), end - 1):
            if start in splits and word[start:end] in _UI_WORDS:
                splits[end] = [*splits[start], word[start:end]]
                break
    found = splits.get(len(word))
    return found if found and len(found) > 1 else None


def _ui_word(word: str) -> bool:
    """A navigation or button word, also with one letter OCR misread in a long one ('WEDSITE')."""
    if word in _UI_WORDS:
        return True
    return len(word) >= _MIN_MISREAD_LENGTH and _one_letter_off(word, _UI_WORDS)


def _one_letter_off(text: str, known: frozenset[str]) -> bool:
    """``text`` is one of ``known`` with exactly one letter read wrong ('wedsite', 'dive b8r')."""
    return any(
        len(word) == len(text) and sum(a != b for a, b in zip(word, text, strict=True)) == 1 for word in known
    )


def is_ui_words(text: str) -> bool:
    """A short line made only of navigation or button words ('Book Us', 'VIEW DETAILS', 'MOREINFO')."""
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) == 1:
        words = _glued_ui_words(words[0]) or words
    ui = 0 < len(words) <= 4 and all(_ui_word(word) for word in words)
    return ui and not set(words) <= _FUNCTION_WORDS  # 'BY' alone is half of 'HOSTED BY


def is_overlay(text: str) -> bool:
    """A consent banner, its buttons or a footer line: laid over the page, never part of its geometry."""
    words = re.findall(r"[a-z]+", text.lower())
    if words and all(word in _CONSENT_BUTTONS for word in words):
        return True
    return _CONSENT.search(text) is not None


def is_chrome(text: str) -> bool:
    """UI chrome, a consent banner, a tag, a web address or a lone suite number: never part of a show."""
    stripped = text.strip().strip("|").strip()
    if is_overlay(stripped):
        return True
    if is_header_text(stripped):
        return False  # a table's column names ('Venue', 'Host') are read by the table parser
    folded = " ".join(stripped.lower().split())
    if _is_tag(stripped) or _SUITE.match(stripped) or is_ui_words(stripped):
        return True
    if _CONSENT.search(stripped) or _WEB_ADDRESS.match(stripped):
        return True
    return len(folded.split()) <= 4 and _LINK_END.search(stripped) is not None


def _is_tag(text: str) -> bool:
    """A category tag ('Sports Bar'), also with one letter OCR misread in a long one ('Dive B8r')."""
    folded = " ".join(text.strip().strip("|").strip().lower().split())
    if folded in _TAGS:
        return True
    return len(folded) >= _MIN_MISREAD_TAG and _one_letter_off(folded, _TAGS)


def _chip_beside(tag: OcrLine, box: OcrLine) -> bool:
    """``box`` sits on ``tag``'s line, in type of its size, a chip's gap to its left or right."""
    shared = min(tag.y1, box.y1) - max(tag.y0, box.y0)
    same_size = abs(tag.height - box.height) <= 0.25 * max(tag.height, box.height)
    gap = max(box.x0 - tag.x1, tag.x0 - box.x1)
    return shared >= 0.6 * min(tag.height, box.height) and same_size and -2 <= gap <= _CHIP_GAP * tag.height


def tag_row_mates(lines: Sequence[OcrLine]) -> set[OcrLine]:
    """Short words set as chips in one row with a known tag ('Sports Bar' | 'Food'): tags too.

    Tags come in rows of chips; a chip whose word is not a known category ('Food',
    'Darts') would otherwise be read as a name, and the nearest one to a street at that.
    Only a known tag's own neighbours count: a chain of them could run into a name. A host's
    chip ('KJ Dana', 'Host: Juice') beside the tags is the show's host, not a tag.
    """
    tags = [line for line in lines if _is_tag(line.text)]
    return {
        box
        for box in lines
        if not _is_tag(box.text)
        and len(box.text.strip()) <= _CHIP_MAX_CHARS
        and _CHIP_TEXT.match(box.text.strip())
        and not _HOST_CHIP.match(box.text.strip())
        and any(_chip_beside(tag, box) for tag in tags)
    }


def vendor_badge(text: str) -> str | None:
    """The karaoke company a line names ("Mike's Karaoke", 'Karaoke by Star Sound'), if any.

    'Presented by' / 'Hosted by' a person (no company word) is a host credit, not a vendor;
    the name of a credit never runs on into the next cell of a row.
    """
    stripped = text.strip()
    for pattern in (_POSSESSIVE_BADGE, _SUFFIX_BADGE):
        match = pattern.match(stripped)
        if match is not None and len(stripped) <= len(match["name"]) + 2:
            return clean_name(match["name"])
    named = _NAMED_BADGE.match(stripped)
    credit = _CREDIT.match(stripped)  # 'Presented by Encore Karaoke' names 'Encore Karaoke'
    if named is not None and credit is None and named["name"].lower().split()[0] not in _NOT_A_NAME:
        return clean_name(named["name"])
    if credit is None:
        return None
    name = credit["name"].split("|")[0]  # 'Karaoke by | 4985 Harbor Blvd': a logo beside the street
    if not name.strip():
        return None
    hosted = re.match(r"^(?:presented|hosted)\s+by\b", stripped, re.IGNORECASE) is not None
    if hosted and (re.match(r"^(?:dj|kj|vj)\b", name, re.IGNORECASE) or not _COMPANY.search(name)):
        return None
    return clean_name(name)
