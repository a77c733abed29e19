"""The worker loop in process, on a real SQLite queue and catalog: a locked database, a lost
job lease, a job past its timeout. The service is the real one; only the processor is a fake."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgflow.adapters import sqlite_db
from imgflow.adapters.memory import MemoryObjectStore
from imgflow.adapters.sqlite_catalog import SqliteCatalog
from imgflow.adapters.sqlite_queue import Job, SqliteJobQueue
from imgflow.bootstrap import Adapters, build_service
from imgflow.recipes import Limits
from imgflow.runtimes.local.worker import QUEUE_LEASE_MARGIN, Worker
from imgflow.service import ImageService
from imgflow.settings import load_settings
from service.svc_kit import PNG, RECIPE, Crash, FakeProcessor


@dataclass
class Rig:
    db: Path
    service: ImageService
    queue: SqliteJobQueue
    processor: FakeProcessor
    originals: MemoryObjectStore

    def upload(self) -> str:
        record, grant = self.service.create_upload("alice", filename="a.png", content_type="image/png", size=len(PNG))
        self.originals.accept_upload(grant.fields, PNG)
        assert self.service.upload_completed(record.key) is not None  # queued: the catalog enqueues the job
        return record.image_id

    def status(self, image_id: str) -> str:
        return self.service.catalog.get(image_id).status


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_MS", 200)  # a lock held past this is an error, quickly
    db = tmp_path / "imgflow.db"
    catalog = SqliteCatalog(db)
    originals = MemoryObjectStore("uploads")
    processor = FakeProcessor()
    settings = load_settings(
        environ={},
        recipes={"default": RECIPE},
        limits=Limits(max_bytes=10_000, accept=("png",)),
        lease_seconds=1,
        retry_delay_seconds=0.05,
    )
    adapters = Adapters(originals=originals, renditions=MemoryObjectStore("renditions"), catalog=catalog)
    service = build_service(settings, adapters=adapters, processor=processor)
    queue = SqliteJobQueue(db)
    yield Rig(db, service, queue, processor, originals)
    queue.close()
    catalog.close()


def _run_until_done(rig: Rig, worker: Worker, image_id: str) -> None:
    """``worker.run()`` on a thread until the image is done; the loop must still be running then."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _wait("the image to be done", lambda: rig.status(image_id) == "done")
        assert thread.is_alive()
    finally:
        worker.stopping.set()
        thread.join(10)
    assert not thread.is_alive()


def _wait(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _hold_write_lock(db: Path, seconds: float) -> threading.Event:
    """Another connection takes the write lock and keeps it ``seconds``; the event is set once it holds it."""
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    held.wait(10)
    return held


def test_a_locked_database_is_survived(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    image_id = rig.upload()
    # the lock is taken mid-job: the done write, the lease release and the job's release all hit it

    def lock_once() -> None:
        rig.processor.during = None
        _hold_write_lock(rig.db, 1.0)

    rig.processor.during = lock_once
    _run_until_done(rig, Worker(rig.service, rig.queue, lease_seconds=1.0), image_id)
    assert rig.service.catalog.get(image_id).attempts == 2
    assert rig.queue.depth() == 0
    messages = {r.getMessage() for r in caplog.records}
    assert "could not finish a job; it comes back when its lease expires" in messages


def test_a_worker_keeps_claiming_while_the_database_is_locked(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    image_id = rig.upload()
    _hold_write_lock(rig.db, 1.0)
    _run_until_done(rig, Worker(rig.service, rig.queue, lease_seconds=5.0), image_id)
    assert "could not claim a job" in {r.getMessage() for r in caplog.records}
    assert rig.service.catalog.get(image_id).attempts == 1


def test_no_second_claim_while_a_job_runs_several_leases(rig: Rig) -> None:
    """A job that runs 2.5 leases keeps its lease from the heartbeat: no other worker can claim it."""
    image_id = rig.upload()
    worker = Worker(rig.service, rig.queue, lease_seconds=0.2)  # + the margin: a 1.2 s job lease
    job = rig.queue.claim(worker.name, worker.lease_seconds)
    assert job is not None
    other = SqliteJobQueue(rig.db)
    thefts: list[object] = []

    def long_job() -> None:
        deadline = time.monotonic() + 2.5 * worker.lease_seconds
        while time.monotonic() < deadline:
            stolen = other.claim("thief", 1.0)
            if stolen is not None:
                thefts.append(stolen)
            time.sleep(0.05)

    rig.processor.during = long_job
    try:
        worker.run_one(job)
    finally:
        other.close()
    assert thefts == []
    assert rig.status(image_id) == "done"
    assert rig.queue.depth() == 0


def test_a_heartbeat_that_loses_the_job_lease_stops_renewing(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    image_id = rig.upload()
    job = rig.queue.claim("w", 1.0)
    assert job is not None
    seen: dict[str, float] = {}

    def stolen() -> None:  # another worker retakes the job mid-way (its lease ran out, say)
        with sqlite3.connect(rig.db) as conn:
            conn.execute("UPDATE jobs SET lease_token = 'thief' WHERE job_id = ?", (job.job_id,))
        _wait("the heartbeat to notice", lambda: "job lease lost" in {r.getMessage() for r in caplog.records})
        seen["record lease"] = rig.service.catalog.get(image_id).lease_expires_at or 0.0
        time.sleep(1.0)  # three heartbeat periods: none renews the record any more
        seen["later"] = rig.service.catalog.get(image_id).lease_expires_at or 0.0

    rig.processor.during = stolen
    Worker(rig.service, rig.queue, lease_seconds=0.3).run_one(job)
    assert seen["later"] == seen["record lease"]
    with sqlite3.connect(rig.db) as conn:  # the thief's job is not ours to finish
        assert conn.execute("SELECT lease_token FROM jobs WHERE job_id = ?", (job.job_id,)).fetchone() == ("thief",)
    assert "job was retaken before we finished it" in {r.getMessage() for r in caplog.records}


def test_a_heartbeat_stops_renewing_past_the_job_timeout(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    image_id = rig.upload()
    job = rig.queue.claim("w", 1.0)
    assert job is not None
    seen: dict[str, float] = {}

    def hangs() -> None:
        _wait("the timeout", lambda: "job past its timeout; its lease is no longer renewed" in
              {r.getMessage() for r in caplog.records})  # fmt: skip
        seen["at timeout"] = rig.service.catalog.get(image_id).lease_expires_at or 0.0
        time.sleep(1.0)
        seen["later"] = rig.service.catalog.get(image_id).lease_expires_at or 0.0

    rig.processor.during = hangs
    Worker(rig.service, rig.queue, lease_seconds=0.3, job_timeout=0.5).run_one(job)
    assert seen["later"] == seen["at timeout"]


def _claimed(rig: Rig, worker: Worker, dead_before: int = 0) -> Job:
    """The job as ``worker`` claims it after ``dead_before`` workers claimed it and died."""
    for _ in range(dead_before):
        assert rig.queue.claim("dead", 0.01) is not None
        time.sleep(0.02)  # its lease runs out
    job = rig.queue.claim(worker.name, worker.lease_seconds)
    assert job is not None
    assert job.attempts == dead_before + 1
    return job


def test_the_job_lease_outlives_the_records(rig: Rig) -> None:
    image_id = rig.upload()
    worker = Worker(rig.service, rig.queue, lease_seconds=rig.service.config.lease_seconds)
    job = _claimed(rig, worker)
    seen: dict[str, float] = {}
    rig.processor.during = lambda: seen.setdefault("record", rig.service.catalog.get(image_id).lease_expires_at or 0)
    worker.run_one(job)
    assert job.lease_expires_at - seen["record"] > QUEUE_LEASE_MARGIN / 2  # a retaken job finds the record's dead


def test_a_job_whose_image_was_deleted_is_finished_not_retried(rig: Rig) -> None:
    image_id = rig.upload()
    rig.service.delete("alice", image_id)
    worker = Worker(rig.service, rig.queue, lease_seconds=1.0)
    worker.run_one(_claimed(rig, worker))
    assert (rig.queue.depth(), rig.queue.dead(), rig.processor.calls) == (0, [], 0)


def test_the_last_delivery_allowed_still_runs_then_the_job_is_given_up(rig: Rig) -> None:
    """max_attempts 3 + one extra delivery: a job claimed a 4th time runs; a 5th claim gives up."""
    image_id = rig.upload()
    worker = Worker(rig.service, rig.queue, lease_seconds=1.0)
    worker.run_one(_claimed(rig, worker, dead_before=3))
    assert rig.status(image_id) == "done"
    lost = rig.upload()
    worker.run_one(_claimed(rig, worker, dead_before=4))
    record = rig.service.catalog.get(lost)
    assert (record.status, record.error.code if record.error else None) == ("failed", "dead_lettered")
    assert [(d.image_id, d.reason) for d in rig.queue.dead()] == [(lost, "gave up after 4 deliveries")]
    assert rig.processor.calls == 1


def test_a_stopping_worker_gives_a_job_back_at_once(rig: Rig) -> None:
    """A stopping worker's retry is released now, not after the retry delay (here: until another
    attempt's live lease ends), so the next worker takes it at once."""
    image_id = rig.upload()
    rig.processor.raises = Crash("another worker died mid-job: its lease lives on")
    with pytest.raises(Crash):
        rig.service.handle_object_created(f"originals/{image_id}")
    rig.processor.raises = None
    worker = Worker(rig.service, rig.queue, lease_seconds=1.0)
    job = _claimed(rig, worker)
    worker.stopping.set()
    worker.run_one(job)
    again = rig.queue.claim("next", 1.0)
    assert again is not None
    assert (again.job_id, again.attempts) == (job.job_id, 2)


def test_an_idle_worker_wakes_when_a_job_is_ready(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between claims an idle worker only asks the queue whether a job is ready (a read), and
    claims as soon as one is: with the claim interval made an hour, the upload is still processed."""
    from imgflow.runtimes.local import worker as worker_module

    monkeypatch.setattr(worker_module, "IDLE_POLL", 3600.0)
    worker = Worker(rig.service, rig.queue, lease_seconds=5.0)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _wait("the worker to be idle", lambda: thread.is_alive() and rig.queue.depth() == 0)
        time.sleep(0.1)  # past its first empty claim: the worker is waiting now
        image_id = rig.upload()
        _wait("the image to be done", lambda: rig.status(image_id) == "done")
    finally:
        worker.stopping.set()
        thread.join(10)
    assert not thread.is_alive()  # and a stop still ends the wait at once


def test_an_idle_worker_asks_a_failing_queue_once_per_interval(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the database away, the readiness check does not turn into a claim (and a logged
    warning) every 20 ms: after a failed check the worker waits out the claim interval."""
    from imgflow.errors import StorageError
    from imgflow.runtimes.local import worker as worker_module

    class AwayQueue(SqliteJobQueue):
        asked = 0

        def ready(self) -> bool:
            AwayQueue.asked += 1
            raise StorageError("the database is away")

    monkeypatch.setattr(worker_module, "IDLE_POLL", 3600.0)
    queue = AwayQueue(rig.db)
    worker = Worker(rig.service, queue, lease_seconds=5.0)
    thread = threading.Thread(target=worker._idle, daemon=True)
    thread.start()
    try:
        _wait("the first readiness check", lambda: AwayQueue.asked >= 1)
        time.sleep(0.3)  # fifteen READY_POLL intervals
        assert AwayQueue.asked == 1
        assert thread.is_alive()
    finally:
        worker.stopping.set()
        thread.join(10)
        queue.close()
    assert not thread.is_alive()


def test_a_worker_gives_the_heap_back_when_it_goes_idle_not_between_jobs(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs close together reuse the allocator's kept heap; once the worker has had no job for
    HEAP_RELEASE_IDLE it hands it back, once (imgflow.processing.heap.release), and an idle
    worker does not keep trimming."""
    from imgflow.runtimes.local import worker as worker_module

    released: list[int] = []
    monkeypatch.setattr(worker_module, "release_heap", lambda: released.append(rig.queue.depth()))
    monkeypatch.setattr(worker_module, "IDLE_POLL", 0.05)
    monkeypatch.setattr(worker_module, "HEAP_RELEASE_IDLE", 0.3)
    worker = Worker(rig.service, rig.queue, lease_seconds=5.0)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # idle from the start: nothing worked, nothing to give back
        assert released == []
        first, second = rig.upload(), rig.upload()
        _wait("both images to be done", lambda: rig.status(first) == rig.status(second) == "done")
        done = time.monotonic()
        _wait("the heap to be given back", lambda: released != [])
        assert time.monotonic() - done >= 0.2  # not at the first empty claim
        time.sleep(0.5)  # ten more empty claims
    finally:
        worker.stopping.set()
        thread.join(10)
    assert released == [0]  # once, with the queue empty
