"""The catalog in PostgreSQL (the cluster backend): the record as ``jsonb`` plus the columns its
queries read, every conditional transition ONE ``UPDATE ... WHERE`` on state, lease and version.

As in the SQLite catalog, a write that leaves a record ``queued`` inserts its job
(:mod:`imgflow.adapters.pg_queue`) in the same transaction: no accepted upload without its job.
"""

from __future__ import annotations

import builtins
import functools
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import psycopg

from imgflow.adapters import catalog_rules as rules
from imgflow.adapters.pg_db import Database
from imgflow.adapters.pg_queue import enqueue_job
from imgflow.errors import Conflict, NotFound
from imgflow.ports import Expect, Page
from imgflow.records import ImageRecord, Status

#: columns a transition keeps equal to the record's field of the same name
_MIRRORED = ("status", "lease_token", "lease_expires_at", "expires_at", "event_pending")
_GENERATION = "coalesce((item->>'generation')::int, 0)"
_INSERT = (
    "INSERT INTO images (image_id, owner, created_at, status, lease_token, lease_expires_at, updated_at,"
    " expires_at, event_pending, version, tags, item) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


@functools.lru_cache(maxsize=1024)
def _record(item: str) -> ImageRecord:
    """Parsed once per distinct stored JSON (records are frozen; status reads repeat)."""
    return ImageRecord.from_item(json.loads(item))


def _row(record: ImageRecord) -> tuple[Any, ...]:
    item = json.dumps(record.to_item(), separators=(",", ":"), ensure_ascii=False)
    return (
        record.image_id, record.owner, record.created_at, record.status, record.lease_token,
        record.lease_expires_at, record.updated_at, record.expires_at, record.event_pending, record.version,
        rules.tag_keys(record.tags), item,
    )  # fmt: skip


def _condition(expect: Expect) -> tuple[str, list[Any]]:
    """:func:`catalog_rules.matches` as SQL."""
    sql = "(status = ANY(%s)"
    args: list[Any] = [list(expect.states)]
    if expect.lease_expired_before is not None:
        sql += " OR (status = 'processing' AND lease_expires_at < %s)"
        args.append(expect.lease_expired_before)
    sql += ")"
    if expect.lease_token is not None:
        sql += " AND lease_token = %s"
        args.append(expect.lease_token)
    if expect.version is not None:
        sql += " AND version = %s"
        args.append(expect.version)
    return sql, args


class PgCatalog:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def close(self) -> None:
        self.db.close()

    def create(self, record: ImageRecord) -> ImageRecord:
        try:
            with self.db.transaction() as conn:
                conn.execute(_INSERT, _row(record))
                if record.status == "queued":
                    enqueue_job(conn, record.image_id, record.generation, self.clock())
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(f"image {record.image_id} exists") from exc
        return record

    def get(self, image_id: str) -> ImageRecord:
        rows = self.db.read("SELECT item::text FROM images WHERE image_id = %s", (image_id,))
        if not rows:
            raise NotFound(f"no image {image_id}")
        return _record(rows[0][0])

    def transition(self, image_id: str, expect: Expect, changes: Mapping[str, Any]) -> ImageRecord:
        values = rules.normalize_changes(changes)
        now = self.clock()
        updated_at = values.get("updated_at") if values.get("updated_at") is not None else now
        sets = {k: v for k, v in values.items() if v is not None}
        removes = [k for k, v in values.items() if v is None and k != "updated_at"]
        sql = "UPDATE images SET version = version + 1, updated_at = %s"
        args: list[Any] = [updated_at]
        for column in _MIRRORED:
            if column in values:
                # bandit B608: a constant column name; every value is a %s parameter
                sql += f", {column} = %s"  # nosec B608
                args.append(values[column])
        if "tags" in values:
            sql += ", tags = %s"
            args.append(rules.tag_keys(values["tags"] or ()))
        sql += (
            ", item = jsonb_set(jsonb_set((item || %s::jsonb) - %s::text[], '{version}', to_jsonb(version + 1)),"
            " '{updated_at}', to_jsonb(%s::double precision))"
        )
        args += [json.dumps(sets, ensure_ascii=False), removes, updated_at]
        condition, cond_args = _condition(expect)
        # bandit B608: the condition is constant SQL from _condition; every value is a %s parameter
        sql += f" WHERE image_id = %s AND {condition} RETURNING item::text, status, {_GENERATION}"  # nosec B608
        with self.db.transaction() as conn:
            row = conn.execute(sql.encode(), [*args, image_id, *cond_args]).fetchone()
            if row is None:
                found = conn.execute("SELECT status, version FROM images WHERE image_id = %s", (image_id,)).fetchone()
                if found is None:
                    raise NotFound(f"no image {image_id}")
                raise Conflict(f"image {image_id} is {found[0]} (version {found[1]}): condition failed")
            if row[1] == "queued":
                enqueue_job(conn, image_id, int(row[2]), now)
        return _record(row[0])

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Collection[str] = ()) -> Page:  # fmt: skip
        rules.check_limit(limit)
        sql = "SELECT item::text FROM images WHERE owner = %s"
        args: builtins.list[Any] = [owner]
        if status is not None:
            sql += " AND status = %s"
            args.append(status)
        if tags:
            sql += " AND tags @> %s::text[]"
            args.append(rules.tag_keys(tags))
        if cursor:
            created, image_id = rules.read_position(owner, cursor)
            sql += " AND (created_at, image_id) < (%s, %s)"
            args += [created, image_id]
        sql += " ORDER BY created_at DESC, image_id DESC LIMIT %s"
        args.append(limit + 1)
        with self.db.connection() as conn:
            rows = conn.execute(sql.encode(), args).fetchall()
        items = [_record(r[0]) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, cursor=rules.position_cursor(owner, items[-1]) if more else None)

    def redrive(self, record: ImageRecord) -> None:
        """Queue the record's job again: run once more after the worker holding it finishes."""
        with self.db.transaction() as conn:
            enqueue_job(conn, record.image_id, record.generation, self.clock())

    def count_pending(self, owner: str) -> int:
        """Images of ``owner`` queued or processing (the API's backpressure)."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM images WHERE status IN ('queued', 'processing') AND owner = %s", (owner,)
            ).fetchone()
        return int(row[0]) if row else 0

    def delete(self, image_id: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM images WHERE image_id = %s", (image_id,))

    def stale(self, now: float, *, older_than: float, limit: int = 100) -> builtins.list[ImageRecord]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT item::text FROM images WHERE (status = 'processing' AND lease_expires_at < %s)"
                " OR (status IN ('awaiting_upload', 'queued') AND updated_at < %s) ORDER BY updated_at LIMIT %s",
                (now, older_than, limit),
            ).fetchall()
        return [_record(r[0]) for r in rows]

    def pending_events(self, limit: int = 100) -> builtins.list[ImageRecord]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT item::text FROM images WHERE event_pending IS NOT NULL AND event_pending = status"
                " ORDER BY updated_at LIMIT %s",
                (limit,),
            ).fetchall()
        return [_record(r[0]) for r in rows]

    def every(self, status: Status | None = None) -> Iterator[ImageRecord]:
        """Every record of every owner (an operator's backfill), a page at a time."""
        after = ""
        while True:
            with self.db.connection() as conn:
                rows = conn.execute(
                    "SELECT image_id, item::text FROM images WHERE image_id > %s"
                    " AND (%s::text IS NULL OR status = %s) ORDER BY image_id LIMIT 500",
                    (after, status, status),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row[1])
            after = rows[-1][0]

    def purge_expired(self, now: float) -> int:
        """Delete records whose ``expires_at`` passed (the sweep runs it)."""
        with self.db.connection() as conn:
            return conn.execute("DELETE FROM images WHERE expires_at < %s", (now,)).rowcount
