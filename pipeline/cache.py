"""Result cache: one image's schedule, keyed by its sha256 and everything else that shapes the answer.

The key is the image's sha256 plus the backend's *cache identity*
(``BackendOptions.cache_identity``): for Gemini a digest of the model, the
whole prompt with the request's hints, the generation config and the response
schema, so one request never gets another's answer. Only backends that cost
money or quota have an identity (Gemini); the others are never cached.

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
from pathlib import Path

from pipeline.schema import ParsedSchedule, WireModel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used REAL NOT NULL DEFAULT 0,
    schedule TEXT NOT NULL
)
"""
_LAST_USED = "ALTER TABLE results ADD COLUMN last_used REAL NOT NULL DEFAULT 0"
_PRUNE_EVERY = 100  # puts between two size checks


def cache_key(sha256: str, identity: str) -> str:
    """The key of one image's result under a backend's cache identity."""
    return f"{sha256}:{identity}"


class CacheStats(WireModel):
    """What ``karaoke-pipeline cache stats`` prints."""

    path: str
    entries: int
    max_entries: int
    size_bytes: int
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None


class ResultCache:
    """A small SQLite store of ParsedSchedules; safe across threads and processes."""

    def __init__(self, path: Path, max_entries: int = 100_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._puts = 0
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "last_used" not in columns:  # a cache written before entries were bounded
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it just now
                self._db.execute(_LAST_USED)
        self._db.execute("CREATE INDEX IF NOT EXISTS results_last_used ON results (last_used)")

    @classmethod
    def in_data_dir(cls, data_dir: Path, max_entries: int = 100_000) -> ResultCache:
        return cls(data_dir / "cache.sqlite3", max_entries)

    def get(self, key: str) -> ParsedSchedule | None:
        with self._lock:
            row = self._db.execute("SELECT schedule FROM results WHERE key = ?", (key,)).fetchone()
            if row:
                self._db.execute("UPDATE results SET last_used = ? WHERE key = ?", (time.time(), key))
        return ParsedSchedule.model_validate_json(row[0]) if row else None

    def put(self, key: str, sha256: str, schedule: ParsedSchedule) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, sha256, created_at, last_used, schedule) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, sha256, now, now, schedule.model_dump_json()),
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
            self._db.execute("VACUUM")
        return count

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
