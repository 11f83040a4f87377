"""Normalisation of times, days, names and addresses, shared by every backend.

Pure functions only: no Ray, no I/O, imports in milliseconds.
"""

from __future__ import annotations

import re
import unicodedata

_LEADING_ARTICLE = re.compile(r"^(the)\s+")
_DJ_PREFIX = re.compile(r"^(?:(?:dj|kj|host(?:ed by)?|with|w/)\s+)+")


def _fold(text: str) -> str:
    """Lower-case, strip accents, turn punctuation into spaces, squeeze spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("&", " and ").replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def venue_key(name: str) -> str:
    """Matching key of a venue name: folded, no leading 'The', no spaces."""
    return _LEADING_ARTICLE.sub("", _fold(name)).replace(" ", "")


def dj_key(name: str) -> str:
    """Matching key of a DJ name: drops DJ/KJ/host/with/@ prefixes, folded."""
    folded = _fold(name.lstrip("@"))
    return _DJ_PREFIX.sub("", folded).replace(" ", "")
