"""The SQLite catalog passes the Catalog contract; its job queue is tested here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgflow.adapters.sqlite_catalog import SqliteCatalog
from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.errors import Conflict, LeaseLost, NotFound
from imgflow.ports import Expect
from testkit import Clock

from .catalog_contract import CatalogContract, make_record


class TestSqliteCatalog(CatalogContract):
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


def test_queued_writes_enqueue_in_the_same_transaction(catalog: SqliteCatalog, queue: SqliteJobQueue) -> None:
    waiting = catalog.create(make_record(status="awaiting_upload"))
    assert queue.depth() == 0
    queued = catalog.create(make_record(status="queued"))
    assert queue.depth() == 1
    catalog.transition(waiting.image_id, Expect(states={"awaiting_upload"}), {"status": "queued"})
    assert queue.depth() == 2
    # a failed condition writes nothing, so it enqueues nothing
    with pytest.raises(Conflict):
        catalog.transition(queued.image_id, Expect(states={"done"}), {"status": "queued", "generation": 9})
    assert queue.depth() == 2
    # a duplicate enqueue of a waiting job is the same job
    catalog.transition(queued.image_id, Expect(states={"queued"}), {"recipe": "other"})
    queue.enqueue(queued.image_id, 0)
    assert queue.depth() == 2
    jobs = [queue.claim("w", 60), queue.claim("w", 60)]
    assert queue.claim("w", 60) is None
    assert [(j.image_id, j.generation, j.attempts) for j in jobs if j] == [
        (queued.image_id, 0, 1),
        (waiting.image_id, 0, 1),
    ]
    # a new generation is a new job
    catalog.transition(queued.image_id, Expect(states={"queued"}), {"generation": 1})
    assert queue.depth() == 3


def test_a_rolled_back_write_leaves_no_job(catalog: SqliteCatalog, queue: SqliteJobQueue) -> None:
    rec = catalog.create(make_record(status="queued"))
    with pytest.raises(Conflict):
        catalog.create(rec)  # the INSERT fails: the transaction (and any job) rolls back
    assert queue.depth() == 1


def test_claim_renew_finish(queue: SqliteJobQueue, clock: Clock) -> None:
    queue.enqueue("img1", 0)
    job = queue.claim("w1", 30)
    assert job is not None
    assert (job.image_id, job.attempts, job.lease_expires_at) == ("img1", 1, clock.now + 30)
    assert queue.claim("w2", 30) is None
    clock.now += 20
    assert queue.renew(job.job_id, job.token, 30) == clock.now + 30
    clock.now += 20  # past the first lease, inside the renewed one
    assert queue.claim("w2", 30) is None
    with pytest.raises(LeaseLost):
        queue.finish(job.job_id, "not-the-token")
    queue.finish(job.job_id, job.token)
    assert queue.depth() == 0
    with pytest.raises(LeaseLost):
        queue.finish(job.job_id, job.token)


def test_expired_lease_is_retaken(queue: SqliteJobQueue, clock: Clock) -> None:
    queue.enqueue("img1", 0)
    first = queue.claim("w1", 30)
    assert first is not None
    clock.now += 31
    second = queue.claim("w2", 30)
    assert second is not None
    assert (second.job_id, second.attempts) == (first.job_id, 2)
    assert second.token != first.token
    for call in (
        lambda: queue.renew(first.job_id, first.token, 30),
        lambda: queue.finish(first.job_id, first.token),
        lambda: queue.release(first.job_id, first.token),
        lambda: queue.dead_letter(first.job_id, first.token, "x"),
    ):
        with pytest.raises(LeaseLost):
            call()
    queue.finish(second.job_id, second.token)
    assert queue.depth() == 0


def test_a_job_lease_holds_through_its_expiry_instant(queue: SqliteJobQueue, clock: Clock) -> None:
    queue.enqueue("img1", 0)
    job = queue.claim("w1", 30)
    assert job is not None
    clock.now = job.lease_expires_at
    assert queue.claim("w2", 30) is None
    clock.now += 0.5
    again = queue.claim("w2", 30)
    assert again is not None
    assert (again.job_id, again.attempts) == (job.job_id, 2)


def test_held_lists_the_leased_jobs_only(queue: SqliteJobQueue) -> None:
    queue.enqueue("a", 0)
    job = queue.claim("w1", 30)
    assert job is not None
    queue.enqueue("b", 0)
    assert [(h.worker_id, h.job.image_id, h.job.token) for h in queue.held()] == [("w1", "a", job.token)]
    assert [h.job.job_id for h in queue.held("w1")] == [job.job_id]
    assert queue.held("w2") == []


def test_release_makes_available_again(queue: SqliteJobQueue, clock: Clock) -> None:
    queue.enqueue("img1", 0)
    job = queue.claim("w1", 300)
    assert job is not None
    queue.release(job.job_id, job.token, delay=10)
    assert queue.claim("w2", 300) is None
    clock.now += 10
    again = queue.claim("w2", 300)
    assert again is not None
    assert again.attempts == 2


def test_enqueue_while_claimed_runs_once_more(queue: SqliteJobQueue) -> None:
    queue.enqueue("img1", 0)
    job = queue.claim("w1", 300)
    assert job is not None
    queue.enqueue("img1", 0)
    queue.enqueue("img1", 0)
    assert queue.depth() == 1
    queue.finish(job.job_id, job.token)
    rerun = queue.claim("w1", 300)
    assert rerun is not None
    assert (rerun.job_id, rerun.attempts) == (job.job_id, 1)
    queue.finish(rerun.job_id, rerun.token)
    assert queue.depth() == 0


def test_a_stale_worker_cannot_finish_the_job_it_lost(queue: SqliteJobQueue, clock: Clock) -> None:
    """w1's lease ran out and w2 holds the job, marked to run once more: w1's late finish is refused
    and leaves w2's lease alone (else a third worker would take the job while w2 still works)."""
    queue.enqueue("img1", 0)
    first = queue.claim("w1", 30)
    assert first is not None
    clock.now += 31
    second = queue.claim("w2", 30)
    assert second is not None
    queue.enqueue("img1", 0)  # the record was queued again while w2 holds the job
    with pytest.raises(LeaseLost):
        queue.finish(first.job_id, first.token)
    assert [(h.worker_id, h.job.token) for h in queue.held()] == [("w2", second.token)]
    assert queue.claim("w3", 30) is None
    queue.finish(second.job_id, second.token)  # the rerun: available again, not deleted
    again = queue.claim("w3", 30)
    assert again is not None
    assert (again.job_id, again.attempts) == (second.job_id, 1)


def test_dead_letter_after_max_attempts(queue: SqliteJobQueue, clock: Clock) -> None:
    queue.enqueue("crashy", 0)
    for attempt in (1, 2, 3):
        job = queue.claim("w", 10, max_attempts=3)
        assert job is not None
        assert job.attempts == attempt
        clock.now += 11  # the worker died: its lease runs out
    assert queue.claim("w", 10, max_attempts=3) is None
    dead = queue.dead()
    assert [(d.image_id, d.attempts) for d in dead] == [("crashy", 3)]
    assert "3 attempts" in dead[0].reason
    assert queue.depth() == 0
    # a dead job does not block a new one for the same image and generation
    queue.enqueue("crashy", 0)
    assert queue.depth() == 1


def test_explicit_dead_letter_and_retry(queue: SqliteJobQueue) -> None:
    queue.enqueue("bad", 2)
    job = queue.claim("w", 10)
    assert job is not None
    queue.dead_letter(job.job_id, job.token, "corrupt_image: truncated")
    assert [(d.image_id, d.generation, d.reason) for d in queue.dead()] == [("bad", 2, "corrupt_image: truncated")]
    assert queue.claim("w", 10) is None
    queue.retry_dead(job.job_id)
    assert queue.dead() == []
    retried = queue.claim("w", 10)
    assert retried is not None
    assert (retried.image_id, retried.generation, retried.attempts) == ("bad", 2, 1)


def test_concurrent_claimers_never_share_a_job(db_path: Path, queue: SqliteJobQueue) -> None:
    for i in range(60):
        queue.enqueue(f"img{i}", 0)
    claimed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def work(n: int) -> None:
        q = SqliteJobQueue(db_path)
        try:
            barrier.wait()
            while (job := q.claim(f"t{n}", 300)) is not None:
                with lock:
                    claimed.append(job.image_id)
                q.finish(job.job_id, job.token)
        finally:
            q.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(f"img{i}" for i in range(60))
    assert queue.depth() == 0


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
