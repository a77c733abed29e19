"""The cluster backend's adapters: the catalog and the job queue in one PostgreSQL
(``database_url``), originals and renditions in any S3-compatible store (``aws_endpoint_url``,
``uploads_bucket``, ``renditions_bucket``; credentials from the usual AWS variables).

Nothing connects at import; psycopg and boto3 are reached only when a function here runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from imgflow.errors import ConfigError
from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.adapters.pg_db import Database
    from imgflow.adapters.pg_queue import PgJobQueue
    from imgflow.bootstrap import Adapters


def require_cluster(settings: Settings) -> None:
    if settings.backend != "cluster":
        raise ConfigError(f"this role runs on backend 'cluster' (got {settings.backend!r}); see docs/cluster.md")


def database(settings: Settings, *, check: bool = True) -> Database:
    """A pool on ``database_url``; ``check``: ConfigError unless ``imgflow db migrate`` made this
    code's schema (one clear line, never a query failing later)."""
    from imgflow.adapters.pg_db import Database

    require_cluster(settings)
    assert settings.database_url is not None  # the settings' own check
    return Database(settings.database_url, max_size=settings.database_pool_size, check=check)


def cluster_adapters(settings: Settings, now: Callable[[], float]) -> Adapters:
    from imgflow.adapters.pg_catalog import PgCatalog
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.bootstrap import Adapters, s3_client

    s3 = s3_client(settings)
    catalog = PgCatalog(database(settings, check=False), clock=now)  # each role checks the schema at start
    return Adapters(
        originals=S3ObjectStore(s3, settings.uploads_bucket),
        renditions=S3ObjectStore(s3, settings.renditions_bucket),
        catalog=catalog,
        rerun_later=catalog.redrive,
    )


def open_queue(settings: Settings, db: Database | None = None) -> PgJobQueue:
    """The job queue, on ``db`` (the catalog's pool) or a pool of its own."""
    from imgflow.adapters.pg_queue import PgJobQueue

    return PgJobQueue(db if db is not None else database(settings))


def check_schema(settings: Settings) -> None:
    """At a role's start: ConfigError (one line) unless the database is reachable and has this
    code's schema; StorageError when the database cannot be reached."""
    from imgflow.adapters.pg_db import reach

    require_cluster(settings)
    assert settings.database_url is not None
    reach(settings.database_url)
    db = database(settings, check=False)
    try:
        db.check_schema()
    finally:
        db.close()
