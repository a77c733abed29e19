"""The local SQLite file shared by the catalog and the job queue.

WAL, a busy timeout, ``synchronous=FULL`` (the job queue must survive a crash),
a small pool of connections (any thread borrows one per call) and ``BEGIN IMMEDIATE``
transactions so that conditional writes take the write lock before they read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imgflow.errors import StorageError

BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    image_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    lease_expires_at REAL,
    updated_at REAL NOT NULL,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_by_owner ON images (owner, created_at DESC, image_id DESC);
CREATE INDEX IF NOT EXISTS images_by_status ON images (status, updated_at);
CREATE INDEX IF NOT EXISTS images_by_expiry ON images (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS images_event_pending ON images (updated_at)
    WHERE json_extract(item, '$.event_pending') IS NOT NULL;

-- the user's tags, case-folded, one row each: `GET /v1/images?tag=` reads this index
CREATE TABLE IF NOT EXISTS image_tags (
    image_id TEXT NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    tag TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX IF NOT EXISTS image_tags_by_owner ON image_tags (owner, tag, created_at DESC, image_id DESC);

CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    dedupe_key TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    available_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT,
    lease_token TEXT,
    lease_expires_at REAL,
    rerun INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    dead_reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_once ON jobs (dedupe_key) WHERE dead = 0;
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (dead, available_at, job_id);
"""


class Database:
    """One SQLite file; thread-safe. Close it when done (tests check for leaked connections)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        with self.connection() as conn:
            try:
                conn.executescript(SCHEMA)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot set up {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed.is_set():
                raise StorageError(f"database {self.path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open {self.path}: {exc}") from exc
        try:
            yield conn
        finally:
            with self._lock:
                if self._closed.is_set():
                    conn.close()
                else:
                    self._idle.append(conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error). sqlite3 errors become StorageError."""
        with self.connection() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot lock {self.path}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                    raise StorageError(f"sqlite: {exc}") from exc
                raise

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def enqueue_job(conn: sqlite3.Connection, image_id: str, generation: int, now: float) -> None:
    """Inside the caller's transaction: one live job per (image, generation).

    A duplicate while the job waits changes nothing; a duplicate while a worker holds
    it marks it to run once more when that worker finishes (the record changed under it).
    """
    conn.execute(
        """
        INSERT INTO jobs (image_id, generation, dedupe_key, enqueued_at, available_at)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (dedupe_key) WHERE dead = 0
        DO UPDATE SET rerun = 1 WHERE jobs.lease_token IS NOT NULL
        """,
        (image_id, generation, f"{image_id}/{generation}", now, now),
    )
