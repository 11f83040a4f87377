"""The tagging pass: what each OCR line is, said once for every later stage.

Every line is read once for what it is: noise (a status bar, a post timestamp,
reaction counts), chrome (navigation, buttons, tags, a consent banner), an
overlay (a banner laid over the page), a day or date, a time, a week view's day
label, karaoke, or another event (trivia, specials). The regexes and word lists
behind those tags live here, and so do the tests on text the later stages ask
again of rows they joined ('names a day', 'another event, not karaoke'). Lines
of noise, chips in a row of category tags and a row of day tabs are dropped (the
tabs' selected day kept); OCR's usual slips in times and days are undone first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.tagging.chrome import is_chrome, is_overlay, tag_row_mates
from pipeline.backends.local.tagging.day_tabs import DayTabs, find_day_tabs
from pipeline.backends.local.tagging.words import is_other_event, mentions_karaoke, names_day
from pipeline.clean import normalize_time_range
from pipeline.dates import stray_marks_dropped, unglue_days, zeros_in_clocks

__all__ = ["LineTags", "TaggedPage", "is_day_label", "is_noise", "is_text", "ocr_slips_undone", "tag_page"]

_BARE_CLOCK = re.compile(r"^(?:1[0-2]|0?[1-9]):[0-5]\d$")  # '9:41' alone: a status bar, or a wrapped cell
_DAY_WORDS = re.compile(
    r"\b(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?s?\b|\d{1,2}/\d{1,2}",
    re.IGNORECASE,
)
_STATUS_BAR = re.compile(
    r"^(?:(?:1[0-2]|0?[1-9]):[0-5]\d|(?:[Il|.:]{1,4}\s*)?(?:(?:[345]g|lte|wi-?fi)?\s*\d{1,3}\s*%|[345]g|lte))$",
    re.IGNORECASE,
)  # a clock, a battery, a network; signal bars read as 'II' before them
_TIMESTAMP = re.compile(
    r"^(?:yesterday|today|[a-z]+\s+\d{1,2}(?:,\s*\d{4})?)\s+at\s+\d{1,2}:\d{2}\s*[ap]\.?m\.?$"
    r"|^(?:yesterday|today|just\s+now)$|^\W*\d{1,2}\s*(?:s|m|h|d|w|mins?|hrs?|wks?|secs?)\W*$",
    re.IGNORECASE,
)
_ENGAGEMENT = {"like", "likes", "comment", "comments", "share", "shares", "reply", "replies",
               "reactions", "views", "send", "follow", "following", "retweets", "reposts",
               "message", "messages"}  # fmt: skip
_ACCOUNT_LINE = re.compile(
    r"^@?[\w.]+\s*[\u2022\u00b7]?\s*\d{1,2}\s*[hmdw]$", re.IGNORECASE
)  # 'karaoke_cbus 2h'


def is_noise(text: str) -> bool:
    """Status-bar clock or battery, post timestamp, reaction counts, hashtags, stray symbols."""
    stripped = text.strip()
    words = re.findall(r"[a-z]+|\d+", stripped.lower())
    if (
        not words
        or _STATUS_BAR.match(stripped)
        or _TIMESTAMP.match(stripped)
        or _ACCOUNT_LINE.match(stripped)
    ):
        return True
    if all(word.startswith("#") for word in stripped.split()):
        return True
    engagement = [w for w in words if w in _ENGAGEMENT]
    return bool(engagement) and all(w in _ENGAGEMENT or w.isdigit() for w in words)


def is_text(line: OcrLine, lines: Sequence[OcrLine]) -> bool:
    """Not noise; a bare clock is a phone's status bar only in the page's top row.

    Lower down it is a table cell's time that wrapped ('10:00' over 'PM - 1:00 AM').
    """
    if not line.text.strip():
        return False
    if _BARE_CLOCK.match(line.text.strip()):
        return any(other.y1 <= line.y0 for other in lines)
    return not is_noise(line.text)


def ocr_slips_undone(text: str) -> str:
    """A box's text with OCR's usual slips in times and days undone ('9:OOPM M - CLOSE')."""
    return unglue_days(stray_marks_dropped(zeros_in_clocks(text)))


def is_day_label(text: str) -> bool:
    """Text that only names a day or a date ('WEDNESDAY WED', '12/16'): a week view's header."""
    leftover = re.sub(r"[^A-Za-z]", "", _DAY_WORDS.sub("", text))
    return names_day(text) and not leftover and normalize_time_range(text) is None


@dataclass(frozen=True)
class LineTags:
    """What one line is; a line of noise never gets this far."""

    chrome: bool
    """UI chrome, a consent banner, a tag, a web address: never part of a show."""
    overlay: bool
    """Laid over the page (a consent banner, a footer): left out of the page's geometry."""
    day: bool
    time: bool
    day_label: bool
    """Only a day or a date: a week view's header, which may sit across a column gutter."""
    karaoke: bool
    other_event: bool
    """Another event and not karaoke (trivia, specials, happy hour)."""

    @classmethod
    def of(cls, text: str) -> LineTags:
        return cls(
            chrome=is_chrome(text),
            overlay=is_overlay(text),
            day=names_day(text),
            time=normalize_time_range(text) is not None,
            day_label=is_day_label(text),
            karaoke=mentions_karaoke(text),
            other_event=is_other_event(text),
        )


@dataclass(frozen=True)
class TaggedPage:
    """A page's text lines (noise and chips gone, OCR slips undone), each with its tags."""

    lines: list[OcrLine]
    tags: dict[OcrLine, LineTags]
    tabs: DayTabs | None = None
    """A row of day tabs over the page's cards (its lines are gone from ``lines``) and its day."""

    @property
    def karaoke(self) -> bool:
        """Some line of the page, chrome included, mentions karaoke."""
        return any(self.tags[line].karaoke for line in self.lines)

    @property
    def content(self) -> list[OcrLine]:
        """The lines a show may be read from: everything but chrome."""
        return [line for line in self.lines if not self.tags[line].chrome]

    @property
    def geometry(self) -> list[OcrLine]:
        """The lines that shape the page's regions: everything but overlays."""
        return [line for line in self.lines if not self.tags[line].overlay]

    def is_chrome(self, line: OcrLine) -> bool:
        return self.tags[line].chrome

    def is_day_label(self, line: OcrLine) -> bool:
        return self.tags[line].day_label


def tag_page(lines: Sequence[OcrLine]) -> TaggedPage:
    """The page's lines without noise, their slips undone, chips of a tag row dropped; then tagged."""
    text_lines = [replace(line, text=ocr_slips_undone(line.text)) for line in lines if is_text(line, lines)]
    chips = tag_row_mates(text_lines)
    tabs = find_day_tabs(text_lines)
    gone = chips | (tabs.lines if tabs is not None else frozenset())
    kept = [line for line in text_lines if line not in gone]
    return TaggedPage(kept, {line: LineTags.of(line.text) for line in kept}, tabs)
