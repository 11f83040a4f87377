"""Result cache: one image's schedule, keyed by its sha256, the backend, model and prompt.

SQLite under ``KARAOKE_DATA_DIR``, in WAL mode with a busy timeout, so several
processes (CLI runs, Serve replicas) can read and write it at once. Only
backends that cost money or quota are cached (Gemini); a new model or a new
prompt version makes a new key, so stale answers are never served.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pipeline.backends.base import BackendOptions
from pipeline.backends.gemini import PROMPT_VERSION, GeminiOptions
from pipeline.schema import ParsedSchedule

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    schedule TEXT NOT NULL
)
"""


def cache_key(sha256: str, options: BackendOptions) -> str | None:
    """The key of one image's result under these options; None when not worth caching."""
    if isinstance(options, GeminiOptions):
        return f"{sha256}:gemini:{options.model}:{PROMPT_VERSION}"
    return None


def is_cacheable(options: BackendOptions) -> bool:
    """Whether results of this backend are worth keeping (they cost quota or money)."""
    return cache_key("", options) is not None


class ResultCache:
    """A small SQLite store of ParsedSchedules; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ResultCache:
        return cls(data_dir / "cache.sqlite3")

    def get(self, key: str) -> ParsedSchedule | None:
        with self._lock:
            row = self._db.execute("SELECT schedule FROM results WHERE key = ?", (key,)).fetchone()
        return ParsedSchedule.model_validate_json(row[0]) if row else None

    def put(self, key: str, sha256: str, schedule: ParsedSchedule) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, sha256, created_at, schedule) VALUES (?, ?, ?, ?)",
                (key, sha256, time.time(), schedule.model_dump_json()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
