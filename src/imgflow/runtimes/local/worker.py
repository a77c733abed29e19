"""One worker process: claim a job with a lease, keep it alive from a heartbeat thread, hand
the image to the service, finish the job.

A job whose worker died comes back when its lease expires; the service's own lease
on the record makes the second run safe. After ``max_attempts + 1`` deliveries a job
is dead-lettered and its record marked ``failed`` (the service gets one extra delivery
so it can record its own ``too_many_attempts``). SIGTERM/SIGINT: claim nothing more,
finish the job in hand (a test hold is cut short and the job released), exit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from imgflow.adapters.sqlite_queue import Job, SqliteJobQueue
from imgflow.errors import ImgflowError, LeaseLost, StorageError
from imgflow.facts import ProcessResult
from imgflow.ports import Expect, Processor
from imgflow.recipes import Limits, Recipe
from imgflow.records import original_key
from imgflow.service.core import ImageService, Outcome
from imgflow.service.process import drop_renditions, failure_changes

log = logging.getLogger("imgflow.worker")

IDLE_POLL = 0.25
MAX_BACKOFF = 30.0
#: the job's lease outlives the record's (taken just after it), so a job retaken from a dead
#: worker finds the record's lease expired and claims it, rather than bouncing off it
QUEUE_LEASE_MARGIN = 1.0


class _Heartbeat:
    """Renews the job's lease, and the record's lease (the service claims the record with the
    job's token), every third of the lease until stopped (or the job's lease is lost). The
    record's renewal is best effort: before the claim and after the final write there is no
    lease to renew, and a lease lost to another worker shows in the service's conditional writes."""

    def __init__(self, service: ImageService, queue: SqliteJobQueue, job: Job, lease_seconds: float) -> None:
        self.service, self.queue, self.job, self.lease = service, queue, job, lease_seconds
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
        queue: SqliteJobQueue,
        *,
        lease_seconds: float,
        max_attempts: int,
        hold_after_claim: float = 0.0,
        name: str | None = None,
        on_outcome: Any = None,
    ) -> None:
        self.service = service
        self.queue = queue
        self.lease_seconds = lease_seconds + QUEUE_LEASE_MARGIN
        self.max_deliveries = max_attempts + 1
        self.name = name or f"worker-{os.getpid()}"
        self.stopping = threading.Event()
        self.on_outcome = on_outcome
        self._current: Job | None = None
        if hold_after_claim > 0 and service.processor is not None:
            service.processor = self._holding(service.processor, hold_after_claim)

    # --- the loop ---------------------------------------------------------------
    def run(self) -> None:
        log.info("worker ready", extra={"worker": self.name})
        while not self.stopping.is_set():
            try:
                job = self.queue.claim(self.name, self.lease_seconds)
            except ImgflowError as exc:
                log.warning("could not claim a job", extra={"code": exc.code})
                job = None
            if job is None:
                self.stopping.wait(IDLE_POLL)
                continue
            self.run_one(job)
        log.info("worker stopped", extra={"worker": self.name})

    def run_one(self, job: Job) -> None:
        key = original_key(job.image_id)
        fields: dict[str, Any] = {"image_id": job.image_id, "key": key, "job_id": job.job_id}
        log.info("job claimed", extra={**fields, "attempt": job.attempts, "worker": self.name})
        if job.attempts > self.max_deliveries:
            self._give_up(job, f"gave up after {job.attempts - 1} deliveries")
            return
        start = time.monotonic()
        self._current = job
        try:
            with _Heartbeat(self.service, self.queue, job, self.lease_seconds):
                outcome = self.service.handle_object_created(key, lease_token=job.token)
        except Exception as exc:  # the service should not raise; never lose the job if it does
            log.exception("the service raised; job released", extra=fields)
            outcome = Outcome("retry_later", job.image_id, reason=type(exc).__name__)
        finally:
            self._current = None
        seconds = time.monotonic() - start
        if self.on_outcome is not None:
            self.on_outcome(outcome, seconds)
        try:
            if outcome.kind == "retry_later":
                self._retry(job, outcome)
            else:
                self.queue.finish(job.job_id, job.token)
        except LeaseLost:
            log.warning("job was retaken before we finished it", extra=fields)
        status = outcome.record.status if outcome.record is not None else None
        log.info(
            "job handled",
            extra={**fields, "outcome": outcome.kind, "reason": outcome.reason, "status": status,
                   "duration_ms": int(seconds * 1000), "attempt": job.attempts},
        )  # fmt: skip

    # --- helpers ------------------------------------------------------------------
    def _retry(self, job: Job, outcome: Outcome) -> None:
        if self.stopping.is_set():
            self.queue.release(job.job_id, job.token)
            return
        if job.attempts >= self.max_deliveries:
            self._give_up(job, f"gave up after {job.attempts} deliveries (last: {outcome.reason})")
            return
        record = outcome.record
        if outcome.reason == "lease_held" and record is not None and record.lease_expires_at:
            delay = record.lease_expires_at - self.service.clock() + 0.1
        else:
            delay = 2.0 ** (job.attempts - 1)
        self.queue.release(job.job_id, job.token, delay=min(MAX_BACKOFF, max(0.1, delay)))

    def _give_up(self, job: Job, reason: str) -> None:
        """Dead-letter the job and fail the record (unless a live lease or a final state owns it)."""
        log.warning("job dead-lettered", extra={"image_id": job.image_id, "job_id": job.job_id, "reason": reason})
        try:
            self.queue.dead_letter(job.job_id, job.token, reason)
        except LeaseLost:
            return
        expect = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=self.service.clock())
        try:
            failed = self.service.catalog.transition(job.image_id, expect, failure_changes("dead_lettered", reason))
        except ImgflowError as exc:
            log.info("record not failed by the dead-letter", extra={"image_id": job.image_id, "code": exc.code})
            return
        # a failed record points to no rendition: drop what earlier attempts left (never a newer generation)
        drop_renditions(self.service, job.image_id, below=failed.generation + 1)
        self.service.announce(failed)  # its Image Failed event (marked by the same write)

    def _holding(self, inner: Processor, seconds: float) -> Processor:
        """Test-only: sleep after the record is claimed (inside processing), cut short on stop."""

        def held(data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult:
            job = self._current
            log.info("holding job", extra={"image_id": job.image_id if job else None, "hold_s": seconds})
            if self.stopping.wait(seconds):
                raise StorageError("the worker is stopping; the job goes back to the queue")
            return inner(data, recipe, limits)

        return held

    def install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            if not self.stopping.is_set():
                log.info("worker stopping", extra={"signal": signal.Signals(signum).name})
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
