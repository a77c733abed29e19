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
