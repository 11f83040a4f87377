"""Result cache: one image's schedule, keyed by its sha256 and everything else that shapes the answer.

The key is the image's sha256 plus the backend's *cache identity*
(``BackendOptions.cache_identity``): for Gemini a digest of the model, the
whole prompt with the request's hints, the generation config and the response
schema, so one request never gets another's answer. Only backends that cost
money or quota have an identity (Gemini); the others are never cached.

Near-copies (the same flyer resized, re-compressed, cropped or with a status
bar) are found too: each entry keeps a perceptual fingerprint
(:mod:`pipeline.similar`) under the same cache identity, and ``lookup`` falls
back to it when the exact bytes are new. A hit there carries ``similar_to``,
the earlier image's sha256. ``similar=False`` turns that fallback off.

SQLite under ``KARAOKE_DATA_DIR``, in WAL mode with a busy timeout, so several
processes (CLI runs, Serve replicas, batch workers on this node) can read and
write it at once. It keeps at most ``max_entries`` results: the least recently
used go first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pipeline.schema import ParsedSchedule, WireModel

if TYPE_CHECKING:
    from pipeline.similar import Fingerprint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL NOT NULL DEFAULT 0,
    schedule TEXT NOT NULL
)
"""
_FINGERPRINTS = """
CREATE TABLE IF NOT EXISTS fingerprints (
    key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    phash TEXT NOT NULL,
    centre TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    thumb BLOB NOT NULL
)
"""
_LAST_USED = "ALTER TABLE results ADD COLUMN last_used REAL NOT NULL DEFAULT 0"
_PRUNE_EVERY = 100  # puts between two size checks
_CANDIDATES = 5  # nearest fingerprints confirmed per lookup, at most
_MEMO = 64  # fingerprints computed by lookup, kept for the put that follows


def cache_key(sha256: str, identity: str) -> str:
    """The key of one image's result under a backend's cache identity."""
    return f"{sha256}:{identity}"


class CacheHit(NamedTuple):
    """A cached answer; ``similar_to`` is the sha256 of the earlier image when it was a near-copy."""

    schedule: ParsedSchedule
    similar_to: str | None = None


class CacheStats(WireModel):
    """What ``karaoke-pipeline cache stats`` prints."""

    path: str
    entries: int
    max_entries: int
    size_bytes: int
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None


def _use_wal(db: sqlite3.Connection, deadline: float) -> None:
    """Switch to WAL. Processes opening one new file together contend for the lock the switch
    needs, and SQLite answers "database is locked" at once instead of waiting (CI saw it with
    four processes): try again until ``deadline``."""
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class ResultCache:
    """A small SQLite store of ParsedSchedules; safe across threads and processes."""

    def __init__(self, path: Path, max_entries: int = 100_000, *, similar: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_entries = max_entries
        self.similar = similar
        self._memo: OrderedDict[str, Fingerprint | None] = OrderedDict()
        self._lock = threading.Lock()
        self._puts = 0
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        _use_wal(self._db, deadline=time.monotonic() + 30.0)
        self._db.execute(_SCHEMA)
        self._db.execute(_FINGERPRINTS)
        self._db.execute("CREATE INDEX IF NOT EXISTS fingerprints_identity ON fingerprints (identity)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "last_used" not in columns:  # a cache written before entries were bounded
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it just now
                self._db.execute(_LAST_USED)
        self._db.execute("CREATE INDEX IF NOT EXISTS results_last_used ON results (last_used)")

    @classmethod
    def in_data_dir(cls, data_dir: Path, max_entries: int = 100_000, *, similar: bool = True) -> ResultCache:
        return cls(data_dir / "cache.sqlite3", max_entries, similar=similar)

    def lookup(self, sha256: str, image: bytes, identity: str) -> CacheHit | None:
        """The answer for these bytes: the exact image's, else (when ``similar``) a near-copy's."""
        exact = self.get(cache_key(sha256, identity))
        if exact is not None:
            return CacheHit(exact)
        if not self.similar:
            return None
        found = self._fingerprint(sha256, image)
        if found is None:
            return None
        for key, earlier in self._confirmed(found, identity):
            schedule = self.get(key)
            if schedule is not None:
                return CacheHit(schedule, earlier)
        return None

    def _fingerprint(self, sha256: str, image: bytes | None) -> Fingerprint | None:
        """The fingerprint of an image, computed once for a lookup and the put after it."""
        from pipeline.similar import fingerprint

        with self._lock:
            if sha256 in self._memo:
                return self._memo[sha256]
        if image is None:
            return None
        found = fingerprint(image)
        with self._lock:
            self._memo[sha256] = found
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)
        return found

    def _confirmed(self, found: Fingerprint, identity: str) -> list[tuple[str, str]]:
        """(key, sha256) of earlier images under ``identity`` that ``found`` is a near-copy of."""
        from pipeline.similar import FIND_DISTANCE, Fingerprint, find_distance, same_picture

        with self._lock:
            rows = self._db.execute(
                "SELECT key, phash, centre FROM fingerprints WHERE identity = ?", (identity,)
            ).fetchall()
        near = sorted(
            (distance, key)
            for key, phash, centre in rows
            if (distance := find_distance(found, int(phash, 16), int(centre, 16))) <= FIND_DISTANCE
        )[:_CANDIDATES]
        confirmed = []
        for _, key in near:
            with self._lock:
                row = self._db.execute(
                    "SELECT sha256, phash, centre, width, height, thumb FROM fingerprints WHERE key = ?",
                    (key,),
                ).fetchone()
            if row is None:
                continue
            sha256, phash, centre, width, height, thumb = row
            stored = Fingerprint(int(phash, 16), int(centre, 16), width, height, bytes(thumb))
            if same_picture(found, stored):
                confirmed.append((key, sha256))
        return confirmed

    def get(self, key: str) -> ParsedSchedule | None:
        with self._lock:
            row = self._db.execute("SELECT schedule FROM results WHERE key = ?", (key,)).fetchone()
            if row:
                self._db.execute("UPDATE results SET last_used = ? WHERE key = ?", (time.time(), key))
        return ParsedSchedule.model_validate_json(row[0]) if row else None

    def put(self, key: str, sha256: str, schedule: ParsedSchedule, image: bytes | None = None) -> None:
        """Store a result; with ``similar``, also the image's fingerprint (from the lookup that
        missed, else from ``image``), so its near-copies find it."""
        now = time.time()
        found = self._fingerprint(sha256, image) if self.similar else None
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, sha256, created_at, last_used, schedule) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, sha256, now, now, schedule.model_dump_json()),
            )
            if found is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO fingerprints "
                    "(key, identity, sha256, phash, centre, width, height, thumb) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        key[len(sha256) + 1 :],
                        sha256,
                        f"{found.phash:016x}",
                        f"{found.centre:016x}",
                        found.width,
                        found.height,
                        found.thumb,
                    ),
                )
            self._puts += 1
            if self._puts % _PRUNE_EVERY == 1:
                self._prune()

    def _prune(self) -> None:
        """Drop the least recently used results beyond ``max_entries`` (lock held)."""
        count = int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        if count > self.max_entries:
            self._db.execute(
                "DELETE FROM results WHERE key IN (SELECT key FROM results ORDER BY last_used LIMIT ?)",
                (count - self.max_entries,),
            )
            self._db.execute("DELETE FROM fingerprints WHERE key NOT IN (SELECT key FROM results)")

    def stats(self) -> CacheStats:
        with self._lock:
            entries, oldest, newest = self._db.execute(
                "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM results"
            ).fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

        def when(stamp: float | None) -> dt.datetime | None:
            return dt.datetime.fromtimestamp(stamp, dt.UTC) if stamp else None

        return CacheStats(
            path=str(self.path),
            entries=int(entries),
            max_entries=self.max_entries,
            size_bytes=size,
            oldest=when(oldest),
            newest=when(newest),
        )

    def clear(self) -> int:
        """Delete every result; how many there were."""
        with self._lock:
            count = int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            self._db.execute("DELETE FROM results")
            self._db.execute("DELETE FROM fingerprints")
            self._db.execute("VACUUM")
        return count

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
