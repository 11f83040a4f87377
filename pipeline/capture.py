"""When an image was captured, from its own metadata: EXIF DateTimeOriginal or PNG tIME.

A date without a year on a schedule resolves against the request's reference
day; without one, against this capture date; else against today.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["PNG_TIME_KEY", "capture_date", "png_time"]

PNG_TIME_KEY = "png_time"
"""``image.info`` key under which intake stores a PNG's tIME chunk (a datetime)."""
_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 36867
_DATE_TIME = 306
_EXIF_STAMP = re.compile(r"^(\d{4}):(\d{2}):(\d{2})")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_time(data: bytes) -> dt.datetime | None:
    """The tIME chunk of PNG bytes (last modification, in UTC), if it comes before the pixels."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"tIME" and length == 7:
            year, month, day, hour, minute, second = struct.unpack(
                ">HBBBBB", data[position + 8 : position + 15]
            )
            try:
                return dt.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=dt.UTC)
            except ValueError:
                return None
        if kind in (b"IDAT", b"IEND"):
            return None
        position += 12 + length
    return None


def _exif_date(image: Image) -> dt.date | None:
    exif = image.getexif()
    stamp = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL) or exif.get(_DATE_TIME)
    match = _EXIF_STAMP.match(str(stamp or ""))
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def capture_date(image: Image) -> dt.date | None:
    """The day the image was taken: EXIF DateTimeOriginal (or DateTime), else PNG tIME."""
    try:
        found = _exif_date(image)
    except (OSError, ValueError, SyntaxError):  # malformed EXIF is not worth failing an image
        found = None
    if found is not None:
        return found
    stamp = image.info.get(PNG_TIME_KEY)
    return stamp.date() if isinstance(stamp, dt.datetime) else None
