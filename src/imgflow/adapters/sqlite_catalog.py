"""The catalog in a SQLite file: the record as JSON plus indexed columns for listing and sweeps.

Every write that leaves a record in status ``queued`` inserts its job (see
:mod:`imgflow.adapters.sqlite_queue`) in the same transaction, so the local worker
pool can never miss a queued image nor see one that was rolled back.
"""

from __future__ import annotations

import builtins
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from imgflow.adapters import catalog_rules as rules
from imgflow.adapters.sqlite_db import Database, enqueue_job
from imgflow.errors import Conflict, NotFound
from imgflow.ports import Expect, Page
from imgflow.records import ImageRecord, Status

_COLUMNS = "image_id, owner, created_at, status, lease_expires_at, updated_at, expires_at, version, item"


def _row(record: ImageRecord) -> tuple[Any, ...]:
    item = json.dumps(record.to_item(), separators=(",", ":"), ensure_ascii=False)
    return (
        record.image_id, record.owner, record.created_at, record.status, record.lease_expires_at,
        record.updated_at, record.expires_at, record.version, item,
    )  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _record(item: str) -> ImageRecord:
    """Parsed once per distinct stored JSON (records are frozen): the on-demand URLs read the
    same few records thousands of times a second."""
    return ImageRecord.from_item(json.loads(item))


class SqliteCatalog:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.db = Database(path)
        self.clock = clock

    def close(self) -> None:
        self.db.close()

    def _after_write(self, conn: sqlite3.Connection, record: ImageRecord) -> None:
        if record.status == "queued":
            enqueue_job(conn, record.image_id, record.generation, self.clock())

    @staticmethod
    def _write_tags(conn: sqlite3.Connection, record: ImageRecord) -> None:
        """The record's tag rows, replaced in the caller's transaction."""
        conn.execute("DELETE FROM image_tags WHERE image_id = ?", (record.image_id,))
        conn.executemany(
            "INSERT INTO image_tags (image_id, owner, tag, created_at) VALUES (?, ?, ?, ?)",
            [(record.image_id, record.owner, tag, record.created_at) for tag in rules.tag_keys(record.tags)],
        )

    def create(self, record: ImageRecord) -> ImageRecord:
        with self.db.transaction() as conn:
            try:
                conn.execute(  # bandit B608: the SQL is constant column names; every value is a ? parameter
                    f"INSERT INTO images ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # nosec B608
                    _row(record),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"image {record.image_id} exists") from exc
            if record.tags:
                self._write_tags(conn, record)
            self._after_write(conn, record)
        return record

    def get(self, image_id: str) -> ImageRecord:
        with self.db.connection() as conn:
            row = conn.execute("SELECT item FROM images WHERE image_id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound(f"no image {image_id}")
        return _record(row[0])

    def transition(self, image_id: str, expect: Expect, changes: Mapping[str, Any]) -> ImageRecord:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT item FROM images WHERE image_id = ?", (image_id,)).fetchone()
            if row is None:
                raise NotFound(f"no image {image_id}")
            record = _record(row[0])
            if not rules.matches(record, expect):
                raise Conflict(f"image {image_id} is {record.status} (version {record.version}): condition failed")
            new = rules.apply_changes(record, changes, self.clock())
            conn.execute(
                "UPDATE images SET owner = ?, created_at = ?, status = ?, lease_expires_at = ?, updated_at = ?,"
                " expires_at = ?, version = ?, item = ? WHERE image_id = ?",
                (*_row(new)[1:], image_id),
            )
            if "tags" in changes:
                self._write_tags(conn, new)
            self._after_write(conn, new)
        return new

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Collection[str] = ()) -> Page:  # fmt: skip
        rules.check_limit(limit)
        sql = "SELECT item FROM images WHERE owner = ?"
        args: builtins.list[Any] = [owner]
        for tag in rules.tag_keys(tags):
            sql += " AND image_id IN (SELECT image_id FROM image_tags WHERE owner = ? AND tag = ?)"
            args += [owner, tag]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if cursor:
            created, image_id = rules.read_position(owner, cursor)
            sql += " AND (created_at < ? OR (created_at = ? AND image_id < ?))"
            args += [created, created, image_id]
        sql += " ORDER BY created_at DESC, image_id DESC LIMIT ?"
        args.append(limit + 1)
        with self.db.connection() as conn:
            rows = conn.execute(sql, args).fetchall()
        items = [_record(r[0]) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, cursor=rules.position_cursor(owner, items[-1]) if more else None)

    def redrive(self, record: ImageRecord) -> None:
        """Queue the record's job again: run once more after the worker holding it finishes."""
        with self.db.transaction() as conn:
            enqueue_job(conn, record.image_id, record.generation, self.clock())

    def count_pending(self, owner: str) -> int:
        """Images of ``owner`` queued or processing: the local server's backpressure reads it."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM images WHERE status IN ('queued', 'processing') AND owner = ?", (owner,)
            ).fetchone()
        return int(row[0])

    def delete(self, image_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM images WHERE image_id = ?", (image_id,))

    def stale(self, now: float, *, older_than: float, limit: int = 100) -> builtins.list[ImageRecord]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT item FROM images WHERE (status = 'processing' AND lease_expires_at < ?)"
                " OR (status IN ('awaiting_upload', 'queued') AND updated_at < ?) ORDER BY updated_at LIMIT ?",
                (now, older_than, limit),
            ).fetchall()
        return [_record(r[0]) for r in rows]

    def pending_events(self, limit: int = 100) -> builtins.list[ImageRecord]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT item FROM images WHERE json_extract(item, '$.event_pending') IS NOT NULL"
                " AND json_extract(item, '$.event_pending') = status ORDER BY updated_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [_record(r[0]) for r in rows]

    def every(self, status: Status | None = None) -> Iterator[ImageRecord]:
        """Every record of every owner (an operator's backfill), oldest first, read a page at a time."""
        after = ""
        while True:
            with self.db.connection() as conn:
                rows = conn.execute(
                    "SELECT image_id, item FROM images WHERE image_id > ? AND (? IS NULL OR status = ?)"
                    " ORDER BY image_id LIMIT 500",
                    (after, status, status),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row[1])
            after = rows[-1][0]

    def purge_expired(self, now: float) -> int:
        """Delete records whose ``expires_at`` passed (DynamoDB's TTL does this by itself)."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM images WHERE expires_at < ?", (now,)).rowcount
