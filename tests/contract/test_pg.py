"""The PostgreSQL catalog and job queue (the cluster backend) on a real PostgreSQL 15 on
127.0.0.1: the same Catalog, tags and JobQueue contracts as SQLite and DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from imgflow.adapters.pg_catalog import PgCatalog
from imgflow.adapters.pg_db import Database, migrate
from imgflow.adapters.pg_queue import PgJobQueue
from testkit import Clock

from .catalog_contract import CatalogContract
from .queue_contract import QueueContract
from .tags_contract import TagsContract


@pytest.fixture
def migrated(pg_database: str) -> str:
    assert migrate(pg_database) == (0, 1)
    return pg_database


class TestPgCatalog(CatalogContract, TagsContract):
    @pytest.fixture
    def catalog(self, migrated: str) -> Iterator[PgCatalog]:
        catalog = PgCatalog(Database(migrated))
        yield catalog
        catalog.close()


class TestPgQueue(QueueContract):
    @pytest.fixture
    def catalog(self, migrated: str, clock: Clock) -> Iterator[PgCatalog]:
        catalog = PgCatalog(Database(migrated), clock=clock)
        yield catalog
        catalog.close()

    @pytest.fixture
    def queue(self, migrated: str, clock: Clock) -> Iterator[PgJobQueue]:
        queue = PgJobQueue(Database(migrated), clock=clock)
        yield queue
        queue.close()

    @pytest.fixture
    def new_queue(self, migrated: str) -> Iterator[Callable[[], PgJobQueue]]:
        opened: list[PgJobQueue] = []

        def make() -> PgJobQueue:
            opened.append(PgJobQueue(Database(migrated)))
            return opened[-1]

        yield make
        for q in opened:
            q.close()


def test_a_status_read_is_one_round_trip_and_survives_a_dead_connection(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads skip the pool's check (a round trip of its own); a pooled connection that died since
    (the server restarted, an idle timeout) costs a second try on a checked one, not an error."""
    from psycopg_pool import ConnectionPool

    from imgflow.records import ImageRecord, new_image_id

    checks: list[int] = []
    real = ConnectionPool.check_connection

    def counted(conn: object) -> None:
        checks.append(1)
        real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    catalog = PgCatalog(Database(migrated, max_size=1))
    try:
        record = ImageRecord(
            image_id=new_image_id(1.0), owner="o", status="queued", created_at=1.0, updated_at=1.0, generation=1
        )
        catalog.create(record)
        with catalog.db.connection() as conn:
            pid = conn.info.backend_pid
        checks.clear()
        for _ in range(20):
            assert catalog.get(record.image_id).image_id == record.image_id
        assert checks == []  # one statement each, no check before it
        with Database(migrated, max_size=1, check=False).connection() as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert catalog.get(record.image_id).status == "queued"  # read again on a fresh connection
        with catalog.db.connection() as conn:
            assert conn.info.backend_pid != pid
        assert checks  # writes and the second try are checked
    finally:
        catalog.close()
