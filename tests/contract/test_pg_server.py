"""The PostgreSQL fixture itself: a fresh database per test, and a restart that keeps the data."""

from __future__ import annotations

import psycopg
import pytest

from pgkit import PgServer


def test_restart_keeps_port_and_data(pg_server: PgServer, pg_database: str) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    port = pg_server.port
    pg_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_database, connect_timeout=2)
    pg_server.start()
    assert pg_server.port == port
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]


def test_each_test_has_an_empty_database(pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)
