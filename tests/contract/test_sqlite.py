"""The SQLite catalog passes the Catalog contract; its job queue is tested here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imgflow.adapters.sqlite_catalog import SqliteCatalog
from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.errors import NotFound
from testkit import Clock

from .catalog_contract import CatalogContract, make_record
from .queue_contract import QueueContract
from .tags_contract import TagsContract


class TestSqliteQueue(QueueContract):
    @pytest.fixture
    def catalog(self, db_path: Path, clock: Clock) -> Iterator[SqliteCatalog]:
        catalog = SqliteCatalog(db_path, clock=clock)
        yield catalog
        catalog.close()

    @pytest.fixture
    def queue(self, db_path: Path, clock: Clock) -> Iterator[SqliteJobQueue]:
        queue = SqliteJobQueue(db_path, clock=clock)
        yield queue
        queue.close()

    @pytest.fixture
    def new_queue(self, db_path: Path) -> Callable[[], SqliteJobQueue]:
        return lambda: SqliteJobQueue(db_path)


class TestSqliteCatalog(CatalogContract, TagsContract):
    @pytest.fixture
    def catalog(self, tmp_path: Path) -> Iterator[SqliteCatalog]:
        catalog = SqliteCatalog(tmp_path / "imgflow.db")
        yield catalog
        catalog.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "imgflow.db"


@pytest.fixture
def catalog(db_path: Path, clock: Clock) -> Iterator[SqliteCatalog]:
    catalog = SqliteCatalog(db_path, clock=clock)
    yield catalog
    catalog.close()


@pytest.fixture
def queue(db_path: Path, clock: Clock) -> Iterator[SqliteJobQueue]:
    queue = SqliteJobQueue(db_path, clock=clock)
    yield queue
    queue.close()


def test_records_survive_reopening(db_path: Path, catalog: SqliteCatalog) -> None:
    rec = catalog.create(make_record(status="queued"))
    other = SqliteCatalog(db_path)
    try:
        assert other.get(rec.image_id) == rec
    finally:
        other.close()


CLAIMER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from imgflow.adapters.sqlite_queue import SqliteJobQueue

    q = SqliteJobQueue(Path(sys.argv[1]))
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    sys.stdin.readline()
    while (job := q.claim(sys.argv[2], 300)) is not None:
        print(job.image_id, flush=True)
    q.close()
    """
)


def test_two_processes_never_share_a_job(db_path: Path, queue: SqliteJobQueue) -> None:
    for i in range(100):
        queue.enqueue(f"img{i}", 0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(db_path), f"p{n}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for n in range(2)
    ]  # fmt: skip
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    claimed = outputs[0] + outputs[1]
    assert sorted(claimed) == sorted(f"img{i}" for i in range(100))
    assert len(set(claimed)) == 100


def test_purge_expired_records(catalog: SqliteCatalog) -> None:
    gone = catalog.create(make_record(status="deleted", expires_at=1000))
    kept = catalog.create(make_record(status="deleted", expires_at=3000))
    assert catalog.purge_expired(2000) == 1
    assert [r.image_id for r in catalog.list("alice").items] == [kept.image_id]
    with pytest.raises(NotFound):
        catalog.get(gone.image_id)
