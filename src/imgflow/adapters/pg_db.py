"""The cluster's PostgreSQL: one database holds the catalog and the job queue.

A psycopg 3 connection pool (psycopg_pool), transactions that roll back on any error, and the
schema as numbered migrations: ``imgflow db migrate`` applies the missing ones under an
advisory lock (several hosts may run it at once) and refuses a database whose schema is
newer than this code. Every psycopg error that is not a constraint the caller handles
becomes :class:`~imgflow.errors.StorageError` (HTTP 503 with Retry-After; a job retries).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from imgflow.errors import ConfigError, StorageError

log = logging.getLogger("imgflow.pg")

#: a key of our own for pg_advisory_lock: schema migrations
MIGRATE_LOCK = 0x1A6F_0001
#: the reconcile sweep: one host at a time (``imgflow sweep``)
SWEEP_LOCK = 0x1A6F_0002

MIGRATIONS: tuple[str, ...] = (
    # 1: the catalog (record as JSON plus the columns its queries read) and the job queue
    """
    CREATE TABLE images (
        image_id text PRIMARY KEY,
        owner text NOT NULL,
        created_at double precision NOT NULL,
        status text NOT NULL,
        lease_token text,
        lease_expires_at double precision,
        updated_at double precision NOT NULL,
        expires_at bigint,
        event_pending text,
        version bigint NOT NULL,
        tags text[] NOT NULL DEFAULT '{}',
        item jsonb NOT NULL
    );
    CREATE INDEX images_by_owner ON images (owner, created_at DESC, image_id DESC);
    CREATE INDEX images_by_status ON images (status, updated_at);
    CREATE INDEX images_by_expiry ON images (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX images_event_pending ON images (updated_at) WHERE event_pending IS NOT NULL;
    CREATE INDEX images_by_tag ON images USING gin (tags);

    CREATE TABLE jobs (
        job_id bigserial PRIMARY KEY,
        image_id text NOT NULL,
        generation integer NOT NULL,
        dedupe_key text NOT NULL,
        enqueued_at double precision NOT NULL,
        available_at double precision NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        worker_id text,
        lease_token text,
        lease_expires_at double precision,
        rerun boolean NOT NULL DEFAULT false,
        dead boolean NOT NULL DEFAULT false,
        dead_reason text
    );
    CREATE UNIQUE INDEX jobs_live_once ON jobs (dedupe_key) WHERE NOT dead;
    CREATE INDEX jobs_ready ON jobs (available_at, job_id) WHERE NOT dead;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(ConfigError):
    code = "schema_too_new"


class SchemaMissing(ConfigError):
    code = "schema_missing"


def _fail(exc: Exception, what: str) -> StorageError:
    return StorageError(f"PostgreSQL {type(exc).__name__} on {what}: {exc}")


class Database:
    """A pool of connections to ``url``; thread-safe. ``min_size`` connections open lazily.
    ``timeout``: how long a caller waits for a connection (the database away: StorageError)."""

    def __init__(self, url: str, *, max_size: int = 8, timeout: float = 5.0, check: bool = True) -> None:
        self.url = url
        self._local = threading.local()  # .unchecked: this thread's next connection skips the check
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            check=self._check,
            reconnect_timeout=0,
            name="imgflow",
        )
        self.pool.open(wait=False)
        if check:
            self.check_schema()

    def close(self) -> None:
        self.pool.close()

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        if not getattr(self._local, "unchecked", False):
            ConnectionPool.check_connection(conn)

    def read(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement, in one round trip: the connection is not checked
        first (a check is a round trip of its own); when it turns out dead (the server restarted
        since it was used), the statement runs once more on a checked one."""
        for unchecked in (True, False):
            self._local.unchecked = unchecked
            try:
                with self.pool.connection() as conn:
                    self._local.unchecked = False
                    return conn.execute(query, params).fetchall()
            except PoolTimeout as exc:
                raise _fail(exc, "connect") from exc
            except psycopg.OperationalError as exc:
                if not unchecked:
                    raise _fail(exc, "a query") from exc
                log.info("a pooled connection was dead; reading again on a checked one", extra={"error": str(exc)})
            finally:
                self._local.unchecked = False
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in autocommit (one statement: one transaction)."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise _fail(exc, "connect") from exc
        except psycopg.OperationalError as exc:
            raise _fail(exc, "a query") from exc

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """``BEGIN`` ... ``COMMIT`` (``ROLLBACK`` on any error); an IntegrityError stays one."""
        with self.connection() as conn:
            try:
                with conn.transaction():
                    yield conn
            except psycopg.IntegrityError:
                raise
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError):
                    raise
                raise _fail(exc, "a transaction") from exc

    def schema_version(self) -> int | None:
        """The schema's version, or None when the database has none yet."""
        with self.connection() as conn:
            row = conn.execute("SELECT to_regclass('imgflow_schema') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return None
            found = conn.execute("SELECT max(version) FROM imgflow_schema").fetchone()
        return int(found[0]) if found and found[0] is not None else None

    def check_schema(self) -> None:
        """ConfigError unless the schema is exactly this code's (run ``imgflow db migrate``)."""
        found = self.schema_version()
        if found is None:
            raise SchemaMissing("the database has no imgflow schema yet: run `imgflow db migrate` first")
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(too_new(found))
        if found < SCHEMA_VERSION:
            raise SchemaMissing(
                f"the database's schema is version {found}, this imgflow needs {SCHEMA_VERSION}:"
                " run `imgflow db migrate`"
            )


def where(url: str) -> str:
    """``host:port/dbname`` of ``url``, for messages (never the password)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database_url given"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def reach(url: str, timeout: float = 5.0) -> None:
    """StorageError naming the server and the reason (refused, auth, no such database) unless a
    connection can be made now: a role's first check, before any pool retries quietly."""
    try:
        psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StorageError(f"cannot reach PostgreSQL at {where(url)}: {reason}") from None


def too_new(found: int) -> str:
    return (
        f"the database's schema is version {found}, newer than this imgflow knows ({SCHEMA_VERSION}):"
        " upgrade imgflow on this host before it touches that database"
    )


def migrate(url: str) -> tuple[int, int]:
    """Create or upgrade the schema; idempotent and safe on several hosts at once (an advisory
    lock). Returns (version before, version after). SchemaTooNew for a database newer than the code."""
    reach(url)
    db = Database(url, max_size=1, check=False)
    try:
        with db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS imgflow_schema"
                " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM imgflow_schema").fetchone()
            before = int(row[0]) if row else 0
            if before > SCHEMA_VERSION:
                raise SchemaTooNew(too_new(before))
            for number in range(before + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[number - 1].encode())
                conn.execute("INSERT INTO imgflow_schema (version) VALUES (%s)", (number,))
                log.info("schema migration applied", extra={"version": number})
    finally:
        db.close()
    return before, SCHEMA_VERSION
