"""The job queue's port: what a worker loop, the supervisor's guard and the API's queue
metrics need, whatever holds the jobs (the SQLite file locally, PostgreSQL on a cluster).

At least once: a worker ``claim``s a job under a lease (a token, an expiry, an attempt counted),
``renew``s it while it works, then ``finish``es, ``release``s (available again, after a delay) or
``dead_letter``s it, each checked against the token (:class:`~imgflow.errors.LeaseLost` when
another worker took it over after the lease ran out). ``claim(..., max_attempts=N)``
dead-letters, instead of handing out, a job already claimed N times.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Job:
    job_id: int
    image_id: str
    generation: int
    #: claims so far, this one included
    attempts: int
    token: str
    lease_expires_at: float
    enqueued_at: float


@dataclass(frozen=True)
class DeadJob:
    job_id: int
    image_id: str
    generation: int
    attempts: int
    reason: str
    enqueued_at: float


@dataclass(frozen=True)
class HeldJob:
    """A job under a lease, and who holds it (the ``worker_id`` it was claimed with)."""

    worker_id: str
    job: Job


class JobQueue(Protocol):
    def close(self) -> None: ...

    def enqueue(self, image_id: str, generation: int) -> None:
        """One live job per (image, generation): a duplicate while it waits changes nothing; a
        duplicate while a worker holds it makes it run once more after that worker finishes."""
        ...

    def claim(self, worker_id: str, lease_seconds: float, *, max_attempts: int | None = None) -> Job | None:
        """The oldest available job (lease absent or expired, ``available_at`` reached), or None."""
        ...

    def ready(self) -> bool:
        """Whether :meth:`claim` would find a job now: a read only (no lock, no write), cheap
        enough for an idle worker to ask many times a second."""
        ...

    def renew(self, job_id: int, token: str, lease_seconds: float) -> float:
        """The new lease expiry; LeaseLost if the token no longer holds the job."""
        ...

    def finish(self, job_id: int, token: str) -> None: ...

    def release(self, job_id: int, token: str, *, delay: float = 0.0) -> None:
        """Available again after ``delay`` seconds; the attempt still counts."""
        ...

    def dead_letter(self, job_id: int, token: str, reason: str) -> None: ...

    def held(self, worker_id: str | None = None) -> list[HeldJob]:
        """Jobs under a lease (expired or not), all or ``worker_id``'s."""
        ...

    def depth(self) -> int:
        """Live jobs: waiting or being worked on (not dead)."""
        ...

    def dead(self) -> list[DeadJob]: ...

    def retry_dead(self, job_id: int) -> None:
        """Put a dead job back in the queue (attempts reset), unless a live one for its image exists."""
        ...


def job_ready(connection: AbstractContextManager[Any], sql: str, now: float) -> bool:
    """``JobQueue.ready`` for the SQL queues: ``sql`` selects one claimable row at ``now`` (given
    twice: for ``available_at`` and for the lease), on a pooled connection, outside a transaction."""
    with connection as conn:
        return conn.execute(sql, (now, now)).fetchone() is not None
