"""Weekdays and calendar dates as written on schedules: phrases, ranges and years.

Pure functions, re-exported by ``pipeline.clean``. A date written without a year
('Sat 6/27') takes the year in which its shown weekday falls on it, nearest to the
reference day in either direction; a year printed elsewhere on the page anchors
it instead. The shown weekday is never replaced by one computed from the date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from pipeline.schema import WEEKDAYS, Weekday

__all__ = [
    "DateMatch",
    "DayMatch",
    "find_date",
    "find_day_phrases",
    "find_page_year",
    "parse_date",
    "parse_days",
    "stray_marks_dropped",
    "unglue_days",
    "weekday_of",
    "zeros_in_clocks",
]

_DAY_NAMES: dict[Weekday, str] = {
    "monday": r"mondays?|mon",
    "tuesday": r"tuesdays?|tues|tue",
    "wednesday": r"wednesdays?|weds|wed",
    "thursday": r"thursdays?|thurs|thur|thu",
    "friday": r"fridays?|fri",
    "saturday": r"saturdays?|sat",
    "sunday": r"sundays?|sun",
}
_DAY = "(?:" + "|".join(_DAY_NAMES.values()) + r")\b\.?"
_ALL_WEEK = r"nightly|every\s+night|daily|every\s+day|7\s+nights(?:\s+a\s+week)?"
_DAY_CHAIN = rf"{_DAY}(?:\s*(?:,|&|\+|/|\band\b|[-\u2013\u2014]|\bthru\b|\bthrough\b|\bto\b)\s*{_DAY})*"
_NTH = r"(?:first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)"
# 'Second and Fourth', '1st & 3rd': the weeks of the month a night is on, one rule with its weekday
_NTH_CHAIN = rf"{_NTH}(?:\s*(?:,|&|\+|/|\band\b)\s*{_NTH})*"
_DAY_PHRASE = re.compile(
    rf"\b(?:(?:every|each)\s*|on\s+)?(?:(?P<nth>{_NTH_CHAIN})\s+)?"
    rf"(?:(?P<chain>{_DAY_CHAIN})|(?P<weekends>weekends?)|(?P<weekdays>weekdays)|(?P<all>{_ALL_WEEK}))"
    r"(?:\s+(?:nights?|evenings?))?(?P<monthly>\s+of\s+(?:the|each|every)?\s*month)?",
    re.IGNORECASE,
)
_DAY_RANGE = re.compile(
    rf"({_DAY})\s*(?:[-\u2013\u2014]|\bthru\b|\bthrough\b|\bto\b)\s*({_DAY})", re.IGNORECASE
)


class DayMatch(NamedTuple):
    """Weekdays named by one phrase ('Thu-Sat', 'Every Monday').

    ``monthly`` for a rule on some weeks of the month: 'Last Sat of Month', 'Every 3rd
    Monday', 'Second and Fourth Friday', '1st & 3rd Saturdays'.
    """

    days: list[Weekday]
    text: str
    monthly: bool
    start: int = -1
    """Offset of the phrase in the searched text."""


def weekday_of(word: str) -> Weekday:
    word = word.lower().rstrip(".")
    return next(day for day, names in _DAY_NAMES.items() if re.fullmatch(names, word))


def _chain_days(chain: str) -> list[Weekday]:
    """Expand 'Thu-Sat', 'Thursdays & Saturdays', 'Mon, Wed - Fri' into weekdays."""
    days: list[Weekday] = []
    position = 0
    for match in _DAY_RANGE.finditer(chain):
        days += [weekday_of(w) for w in re.findall(_DAY, chain[position : match.start()], re.I)]
        first, last = WEEKDAYS.index(weekday_of(match[1])), WEEKDAYS.index(weekday_of(match[2]))
        days += [WEEKDAYS[(first + step) % 7] for step in range((last - first) % 7 + 1)]
        position = match.end()
    days += [weekday_of(w) for w in re.findall(_DAY, chain[position:], re.I)]
    return days


def _week_order(days: list[Weekday]) -> list[Weekday]:
    return [day for day in WEEKDAYS if day in days]


def find_day_phrases(text: str) -> list[DayMatch]:
    """Every day phrase in ``text`` with the weekdays it names, left to right."""
    found: list[DayMatch] = []
    for match in _DAY_PHRASE.finditer(text):
        if match["chain"]:
            days = _chain_days(match["chain"])
        elif match["weekends"]:
            days = ["saturday", "sunday"]
        elif match["weekdays"]:
            days = list(WEEKDAYS[:5])
        else:
            days = list(WEEKDAYS)
        monthly = bool(match["nth"] and (match["monthly"] or match["chain"]))  # 'Every 3rd Monday' too
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        found.append(DayMatch(_week_order(days), match.group(0).strip(), monthly, start))
    return found


def parse_days(text: str) -> list[Weekday]:
    """Weekdays named in ``text``, in week order; [] when none (never a default day)."""
    days = [day for phrase in find_day_phrases(text) for day in phrase.days]
    return _week_order(days)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    rf"\b(?:(?P<weekday>{_DAY}),?\s+)?(?:(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?P<num_month>\d{{1,2}})/(?P<num_day>\d{{1,2}}))(?:(?:,\s*|\s+|/)(?P<year>\d{{4}}))?(?![\w/])",
    re.IGNORECASE,
)
# A year printed on the page in a date context: 'Jun 7 - 13, 2026', 'June 2026', '6/27/2026'.
_PAGE_YEAR = re.compile(
    rf"(?:\b{_MONTH}\s+(?:\d{{1,2}}(?:st|nd|rd|th)?(?:\s*[-\u2013]\s*\d{{1,2}})?,?\s+)?|\d{{1,2}}/\d{{1,2}}/)"
    r"(?P<year>20\d\d)\b",
    re.IGNORECASE,
)
_YEARS_AROUND = 7  # weekdays repeat on a date within 11 years; look this far either way


class DateMatch(NamedTuple):
    """A calendar date found in text, the text it was read from and the weekday shown with it."""

    date: dt.date
    text: str
    weekday: Weekday | None = None


def _nearest_date(
    month: int, day: int, reference: dt.date, weekday: Weekday | None, anchor_year: int | None
) -> dt.date | None:
    """The date nearest ``reference`` (either way) on the shown weekday; a page year wins."""
    years = [anchor_year] if anchor_year else []
    years += range(reference.year - _YEARS_AROUND, reference.year + _YEARS_AROUND + 1)
    candidates: list[dt.date] = []
    for year in years:
        try:
            candidates.append(dt.date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    anchored = candidates[0] if anchor_year and candidates[0].year == anchor_year else None
    if anchored is not None and (weekday is None or WEEKDAYS[anchored.weekday()] == weekday):
        return anchored
    matching = [d for d in candidates if weekday is None or WEEKDAYS[d.weekday()] == weekday]
    return min(matching or candidates, key=lambda d: abs((d - reference).days))


def find_date(text: str, today: dt.date, anchor_year: int | None = None) -> DateMatch | None:
    """The first date like 'Sat Dec 12', '6/27' or 'Thursday, December 31, 2026' in ``text``.

    ``today`` is the reference day for a date without a year; ``anchor_year`` a year
    printed elsewhere on the same page.
    """
    for match in _DATE.finditer(text):
        if match["month"] is not None and match["month"][:3].lower() not in _MONTHS:
            continue
        month = _MONTHS.index(match["month"][:3].lower()) + 1 if match["month"] else int(match["num_month"])
        day = int(match["day"] or match["num_day"])
        weekday = weekday_of(match["weekday"]) if match["weekday"] else None
        try:
            found = dt.date(int(match["year"]), month, day) if match["year"] else None
        except ValueError:
            continue
        if found is None and 1 <= month <= 12:
            found = _nearest_date(month, day, today, weekday, anchor_year)
        if found is not None:
            return DateMatch(found, match.group(0).strip(), weekday)
    return None


_GLUED_DAY = re.compile(
    r"\b(MONDAY|TUESDAY|WEDNESDAY|THURSDAY|FRIDAY|SATURDAY|SUNDAY)(MON|TUE|WED|THU|FRI|SAT|SUN)\b",
    re.IGNORECASE,
)
_GLUED_OPEN_END = re.compile(r"(\d\s*[ap]\.?m\.?)(till?|until|to)(close|late)\b", re.IGNORECASE)
_GLUED_NIGHT = re.compile(
    r"\b((?:MON|TUES|WEDNES|THURS|FRI|SATUR|SUN)DAYS?)(NIGHTS?|KARAOKE|EVENINGS?)\b", re.IGNORECASE
)
_GLUED_DATE = re.compile(r"(?<=[A-Za-z])(?=\d{1,2}/\d{1,2}\b)")
_BAR_FOR_SLASH = re.compile(
    r"\b((?:MON|TUE|WED|THU|FRI|SAT|SUN)[A-Z]*\.?\s+\d{1,2})[|lI](\d{1,2})\b", re.IGNORECASE
)
_GLUED_KARAOKE = re.compile(r"\b(KARAOKE)(?=(?:NIGHTS?|TONIGHT|SCHEDULE|PARTY|WITH)\b)", re.IGNORECASE)
_FRI_WITH_A_ONE = re.compile(r"\bFR[1l](?=\s+\d{1,2}/\d{1,2}\b)")
_GLUED_CREDIT = re.compile(
    r"(\b(?:HOSTED|PRESENTED)\s+BY|\d\s*[AP]M)(?=[A-Z]{2}|W/|[a-z]{2})"
)  # 'BYMIKED', '12:30AMW/', '11:30 PMwith': a meridiem in capitals ends where the case changes
_GLUED_TILL = re.compile(r"\b(till?|until)(close|late)\b", re.IGNORECASE)
_TILL_LOSE = re.compile(r"\b(till?|until|to)\s+lose\b", re.IGNORECASE)  # OCR dropped the 'c' of 'close'
_GLUED_EVERY = re.compile(r"\b(EVERY)(?=(?:MON|TUES|WEDNES|THURS|FRI|SATUR|SUN)DAY)", re.IGNORECASE)
_GLUED_CLOCK = re.compile(r"(?<=[A-Za-z])(?=\d{1,2}(?::\d{2})?\s*[ap]\.?m)", re.IGNORECASE)
_SLASH_OF_WITH = re.compile(r"\b([wW])[lI1|](?=\s*(?:dj|kj|vj)\b)", re.IGNORECASE)  # 'wl DJ Juice'
_GLUED_MONTH_DAY = re.compile(
    r"\b((?:MON|TUES|WEDNES|THURS|FRI|SATUR|SUN)DAY)?"
    r"(JAN|FEB|MAR|APR|MAY|JUNE?|JULY?|AUG|SEPT?|OCT|NOV|DEC)\s?(\d{1,2})(ST|ND|RD|TH)?\b"
)  # 'FRIDAYJUL10', 'DEC5' in capitals: a flyer's date OCR read as one word


def unglue_days(text: str) -> str:
    """Spaces OCR dropped: 'MONDAYMON7/27' -> 'MONDAY MON 7/27', '8PMTILLCLOSE', 'FRIDAYNIGHTS'.

    'EVERYFRIDAYKARAOKE9:00PM' -> 'EVERY FRIDAY KARAOKE 9:00PM', 'KARAOKENIGHT' -> 'KARAOKE
    NIGHT'; a date's slash read as a bar after a weekday is a slash again ('SUN 2|8'), and
    'FR1 3/6' is 'FRI 3/6'. Credits and open ends too: 'HOSTED BYMIKED', '12:30AMW/ DJ',
    'TILLCLOSE', 'til lose'; the slash of 'w/ DJ' read as a letter ('wl DJ'). A weekday,
    month and day in capitals: 'FRIDAYJUL10' -> 'FRIDAY JUL 10'.
    """
    text = _FRI_WITH_A_ONE.sub("FRI", _BAR_FOR_SLASH.sub(r"\1/\2", _SLASH_OF_WITH.sub(r"\1/", text)))
    text = _TILL_LOSE.sub(r"\1 close", _GLUED_TILL.sub(r"\1 \2", _GLUED_CREDIT.sub(r"\1 ", text)))
    text = _GLUED_EVERY.sub(r"\1 ", _GLUED_KARAOKE.sub(r"\1 ", _GLUED_CLOCK.sub(" ", text)))
    text = _GLUED_DAY.sub(r"\1 \2", _GLUED_DATE.sub(" ", text))
    text = _GLUED_MONTH_DAY.sub(lambda m: " ".join(filter(None, (m[1], m[2], m[3] + (m[4] or "")))), text)
    return _GLUED_NIGHT.sub(r"\1 \2", _GLUED_OPEN_END.sub(r"\1 \2 \3", text))


_CLOCK_WITH_LETTER_O = re.compile(
    r"(?<![\d:.])(?=[\dO:.]*O)[1-9][\dO]?(?:[:.][\dO]{2}(?=\s*[ap]\.?m)|[:.][\dO]{2}(?![\w:])|(?=\s*[ap]\.?m))",
    re.IGNORECASE,
)


def zeros_in_clocks(text: str) -> str:
    """Zeros OCR read as the letter O inside a time: '9:OOPM' -> '9:00PM', '1OPM' -> '10PM'."""
    return _CLOCK_WITH_LETTER_O.sub(lambda match: re.sub("[Oo]", "0", match.group(0)), text)


_STRAY_BEFORE_DASH = re.compile(
    r"(\d\s*[ap]\.?m\.?)\s*(?<=\s)[A-Za-z.,'`|]\s*(?=[-\u2013\u2014]\s*(?:\d|close\b|late\b|midnight\b))",
    re.IGNORECASE,
)
_STRAY_AFTER_DASH = re.compile(
    r"(\d\s*[ap]\.?m\.?\s*[-\u2013\u2014])\s*[A-Za-z.,'`|]\s+(?=\d{1,2}(?::\d{2})?\s*[ap]\.?m)", re.IGNORECASE
)


def stray_marks_dropped(text: str) -> str:
    """A lone letter or mark OCR read beside a range's dash, dropped: '9:00 PM M - CLOSE'."""
    return _STRAY_AFTER_DASH.sub(r"\1 ", _STRAY_BEFORE_DASH.sub(r"\1 ", text))


def find_page_year(texts: list[str]) -> int | None:
    """The year most often printed in a date context on a page ('Jun 7 - 13, 2026'), if any."""
    years = [int(m["year"]) for text in texts for m in _PAGE_YEAR.finditer(text)]
    return max(set(years), key=years.count) if years else None


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """A dated one-off's date; without a year, the one nearest ``today`` on its shown weekday."""
    found = find_date(text, today)
    return found.date if found else None
