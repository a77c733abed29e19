"""The JobQueue contract: one abstract suite, subclassed per queue (SQLite locally, PostgreSQL on a
cluster). ``catalog`` writes into the same database as ``queue``; ``new_queue`` opens another
handle on it (another worker)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from imgflow.adapters.job_queue import JobQueue
from imgflow.errors import Conflict, LeaseLost
from imgflow.ports import Expect
from testkit import Clock

from .catalog_contract import make_record


class QueueContract:
    @pytest.fixture
    def queue(self) -> JobQueue:
        raise NotImplementedError

    @pytest.fixture
    def catalog(self) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def new_queue(self) -> Callable[[], JobQueue]:
        raise NotImplementedError

    def test_queued_writes_enqueue_in_the_same_transaction(self, catalog: Any, queue: JobQueue) -> None:
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

    def test_a_rolled_back_write_leaves_no_job(self, catalog: Any, queue: JobQueue) -> None:
        rec = catalog.create(make_record(status="queued"))
        with pytest.raises(Conflict):
            catalog.create(rec)  # the INSERT fails: the transaction (and any job) rolls back
        assert queue.depth() == 1

    def test_claim_renew_finish(self, queue: JobQueue, clock: Clock) -> None:
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

    def test_expired_lease_is_retaken(self, queue: JobQueue, clock: Clock) -> None:
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

    def test_release_makes_available_again(self, queue: JobQueue, clock: Clock) -> None:
        queue.enqueue("img1", 0)
        job = queue.claim("w1", 300)
        assert job is not None
        queue.release(job.job_id, job.token, delay=10)
        assert queue.claim("w2", 300) is None
        clock.now += 10
        again = queue.claim("w2", 300)
        assert again is not None
        assert again.attempts == 2

    def test_ready_says_what_claim_would_find(self, queue: JobQueue, clock: Clock) -> None:
        """An idle worker asks ``ready`` before it claims: it must agree with claim in every state."""
        assert queue.ready() is False
        queue.enqueue("img1", 0)
        assert queue.ready() is True
        job = queue.claim("w1", 30)
        assert job is not None
        assert queue.ready() is False  # leased
        clock.now = job.lease_expires_at
        assert queue.ready() is False  # the lease holds through its expiry instant, as for claim
        clock.now += 0.5
        assert queue.ready() is True  # expired: claim would retake it
        again = queue.claim("w2", 30)
        assert again is not None
        queue.release(again.job_id, again.token, delay=10)
        assert queue.ready() is False  # not available yet
        clock.now += 10
        assert queue.ready() is True
        last = queue.claim("w2", 30)
        assert last is not None
        queue.finish(last.job_id, last.token)
        assert queue.ready() is False

    def test_enqueue_while_claimed_runs_once_more(self, queue: JobQueue) -> None:
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

    def test_a_job_lease_holds_through_its_expiry_instant(self, queue: JobQueue, clock: Clock) -> None:
        queue.enqueue("img1", 0)
        job = queue.claim("w1", 30)
        assert job is not None
        clock.now = job.lease_expires_at
        assert queue.claim("w2", 30) is None
        clock.now += 0.5
        again = queue.claim("w2", 30)
        assert again is not None
        assert (again.job_id, again.attempts) == (job.job_id, 2)

    def test_held_lists_the_leased_jobs_only(self, queue: JobQueue) -> None:
        queue.enqueue("a", 0)
        job = queue.claim("w1", 30)
        assert job is not None
        queue.enqueue("b", 0)
        assert [(h.worker_id, h.job.image_id, h.job.token) for h in queue.held()] == [("w1", "a", job.token)]
        assert [h.job.job_id for h in queue.held("w1")] == [job.job_id]
        assert queue.held("w2") == []

    def test_a_stale_worker_cannot_finish_the_job_it_lost(self, queue: JobQueue, clock: Clock) -> None:
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

    def test_dead_letter_after_max_attempts(self, queue: JobQueue, clock: Clock) -> None:
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

    def test_explicit_dead_letter_and_retry(self, queue: JobQueue) -> None:
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

    def test_concurrent_claimers_never_share_a_job(self, new_queue: Callable[[], JobQueue], queue: JobQueue) -> None:
        for i in range(60):
            queue.enqueue(f"img{i}", 0)
        claimed: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(6)

        def work(n: int) -> None:
            q = new_queue()
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
