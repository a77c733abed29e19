"""One worker process: claim a job with a lease, keep it alive from a heartbeat thread, hand
the image to the service, finish the job.

The queue records the claim under ``worker-<pid>``, so the supervisor releases a dead
worker's job at once (and kills a worker whose job passes ``job_timeout_seconds``: the
heartbeat stops renewing then too, so without a supervisor the lease runs out). The
service's own lease on the record makes a second run safe. The service decides the
retry delay and when to stop delivering (then the job is dead-lettered and its record
``failed``). SIGTERM/SIGINT: claim nothing more, finish the job in hand, exit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from imgflow.adapters.job_queue import Job, JobQueue
from imgflow.errors import ImgflowError, LeaseLost
from imgflow.records import original_key
from imgflow.runtimes.local.guard import worker_name
from imgflow.service import ImageService, Kind, Outcome, Reason

log = logging.getLogger("imgflow.worker")

#: an idle worker claims again after at most this long...
IDLE_POLL = 0.25
#: ...and asks the queue whether a job is ready (a read, no lock) this often meanwhile: an upload
#: starts processing within ~20 ms, not up to a quarter of a second later
READY_POLL = 0.02
#: a worker gives the allocator's kept heap back once it has had no job for this long: not in
#: the short gaps between uploads, where the next job would fault the same pages in again
HEAP_RELEASE_IDLE = 1.0
#: the job's lease outlives the record's (taken just after it), so a job retaken from a dead
#: worker finds the record's lease expired and claims it, rather than bouncing off it
QUEUE_LEASE_MARGIN = 1.0


def release_heap() -> None:
    """The allocator's kept heap back to the system (:func:`imgflow.processing.heap.release`):
    jobs close together reuse it, an idle worker holds only what it needs."""
    from imgflow.processing import heap

    heap.release()


class _Heartbeat:
    """Renews the job's lease, and the record's lease (the service claims the record with the
    job's token), every third of the lease until stopped (or the job's lease is lost). The
    record's renewal is best effort: before the claim and after the final write there is no
    lease to renew, and a lease lost to another worker shows in the service's conditional writes."""

    def __init__(self, service: ImageService, queue: JobQueue, job: Job, lease_seconds: float, timeout: float) -> None:
        self.service, self.queue, self.job, self.lease = service, queue, job, lease_seconds
        #: past this instant (monotonic) nothing is renewed: a hung job's leases run out
        self.deadline = time.monotonic() + timeout
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job.job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(max(0.2, self.lease / 3)):
            if time.monotonic() > self.deadline:
                log.warning("job past its timeout; its lease is no longer renewed", extra={"job_id": self.job.job_id})
                return
            try:
                self.queue.renew(self.job.job_id, self.job.token, self.lease)
            except LeaseLost:
                log.warning("job lease lost", extra={"job_id": self.job.job_id, "image_id": self.job.image_id})
                self.lost.set()
                return
            except ImgflowError as exc:
                log.warning("could not renew a job lease", extra={"job_id": self.job.job_id, "code": exc.code})
            try:
                self.service.renew_lease(self.job.image_id, self.job.token)
            except ImgflowError as exc:
                log.warning("could not renew a record lease", extra={"image_id": self.job.image_id, "code": exc.code})


class Worker:
    def __init__(
        self,
        service: ImageService,
        queue: JobQueue,
        *,
        lease_seconds: float,
        job_timeout: float = 120.0,
        name: str | None = None,
        on_outcome: Any = None,
    ) -> None:
        self.service = service
        self.queue = queue
        self.lease_seconds = lease_seconds + QUEUE_LEASE_MARGIN
        self.job_timeout = job_timeout
        self.name = name or worker_name(os.getpid())
        self.stopping = threading.Event()
        self.on_outcome = on_outcome

    # --- the loop ---------------------------------------------------------------
    def run(self) -> None:
        log.info("worker ready", extra={"worker": self.name})
        worked, last_job = False, 0.0
        while not self.stopping.is_set():
            try:
                job = self.queue.claim(self.name, self.lease_seconds)
            except ImgflowError as exc:
                log.warning("could not claim a job", extra={"code": exc.code})
                job = None
            if job is None:
                if worked and time.monotonic() - last_job >= HEAP_RELEASE_IDLE:
                    release_heap()  # idle after jobs: the heap kept for back-to-back jobs goes back
                    worked = False
                self._idle()
                continue
            self.run_one(job)
            worked, last_job = True, time.monotonic()
        log.info("worker stopped", extra={"worker": self.name})

    def run_one(self, job: Job) -> None:
        key = original_key(job.image_id)
        fields: dict[str, Any] = {"image_id": job.image_id, "key": key, "job_id": job.job_id}
        log.info("job claimed", extra={**fields, "attempt": job.attempts, "worker": self.name})
        earlier = Outcome(Kind.RETRY_LATER, job.image_id, reason=Reason.REDELIVERED)
        if self.service.retry_delay(earlier, job.attempts - 1) is None:  # the last delivery allowed went before
            self._give_up(job, f"gave up after {job.attempts - 1} deliveries")
            return
        start = time.monotonic()
        try:
            with _Heartbeat(self.service, self.queue, job, self.lease_seconds, self.job_timeout):
                outcome = self.service.handle_object_created(key, lease_token=job.token)
        except Exception as exc:  # the service should not raise; never lose the job if it does
            log.exception("the service raised; job released", extra=fields)
            outcome = Outcome(Kind.RETRY_LATER, job.image_id, reason=type(exc).__name__)
        seconds = time.monotonic() - start
        if self.on_outcome is not None:
            self.on_outcome(outcome, seconds)
        try:
            if outcome.kind == Kind.RETRY_LATER:
                self._retry(job, outcome)
            else:
                self.queue.finish(job.job_id, job.token)
        except LeaseLost:
            log.warning("job was retaken before we finished it", extra=fields)
        except ImgflowError as exc:  # a locked or broken database: the job's lease runs out, it comes back
            log.warning(
                "could not finish a job; it comes back when its lease expires", extra={**fields, "code": exc.code}
            )
        status = outcome.record.status if outcome.record is not None else None
        log.info(
            "job handled",
            extra={**fields, "outcome": outcome.kind, "reason": outcome.reason, "status": status,
                   "duration_ms": int(seconds * 1000), "attempt": job.attempts},
        )  # fmt: skip

    # --- helpers ------------------------------------------------------------------
    def _idle(self) -> None:
        """Until a job is ready, the worker is told to stop, or IDLE_POLL has passed."""
        deadline = time.monotonic() + IDLE_POLL
        while not self.stopping.wait(READY_POLL) and time.monotonic() < deadline:
            try:
                if self.queue.ready():
                    return
            except ImgflowError:  # the database is away: the next claim says so, once an interval
                self.stopping.wait(max(0.0, deadline - time.monotonic()))
                return

    def _retry(self, job: Job, outcome: Outcome) -> None:
        if self.stopping.is_set():
            self.queue.release(job.job_id, job.token)
            return
        delay = self.service.retry_delay(outcome, job.attempts)
        if delay is None:
            self._give_up(job, f"gave up after {job.attempts} deliveries (last: {outcome.reason})")
            return
        self.queue.release(job.job_id, job.token, delay=delay)

    def _give_up(self, job: Job, reason: str) -> None:
        """Dead-letter the job and fail the record (unless a live lease or a final state owns it)."""
        log.warning("job dead-lettered", extra={"image_id": job.image_id, "job_id": job.job_id, "reason": reason})
        try:
            self.queue.dead_letter(job.job_id, job.token, reason)
        except LeaseLost:
            return
        self.service.dead_letter(job.image_id, reason)

    def install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            if not self.stopping.is_set():
                log.info("worker stopping", extra={"signal": signal.Signals(signum).name})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
