"""The durable local job queue (a :class:`~imgflow.adapters.job_queue.JobQueue`): the ``jobs``
table in the catalog's SQLite file.

Jobs are inserted by :class:`~imgflow.adapters.sqlite_catalog.SqliteCatalog` whenever
it writes a record in status ``queued`` (same transaction), or by :meth:`SqliteJobQueue.enqueue`.
A worker ``claim``s the oldest available job (its lease absent or expired: a lease holds through
its expiry instant, as in the catalogs), which sets
a lease token and counts an attempt; it then ``renew``s, ``finish``es (delete),
``release``s (available again) or ``dead_letter``s it, each checked against the token
(:class:`~imgflow.errors.LeaseLost` when another worker took it over).

Max attempts: ``claim(..., max_attempts=N)`` dead-letters, instead of handing out, a
job that was already claimed N times (its workers kept dying or timing out). A
worker that sees a permanent failure calls ``dead_letter`` itself.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from imgflow.adapters.job_queue import DeadJob, HeldJob, Job, job_ready
from imgflow.adapters.sqlite_db import Database, enqueue_job
from imgflow.errors import LeaseLost

#: the job records live in :mod:`imgflow.adapters.job_queue`; re-exported for older imports
__all__ = ["DeadJob", "HeldJob", "Job", "SqliteJobQueue"]


#: a job a worker may claim at a time given twice (the claim's and ``ready``'s condition)
_CLAIMABLE = "dead = 0 AND available_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)"
_READY = f"SELECT 1 FROM jobs WHERE {_CLAIMABLE} LIMIT 1"  # nosec B608 # constants only


class SqliteJobQueue:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.db = Database(path)
        self.clock = clock

    def close(self) -> None:
        self.db.close()

    def enqueue(self, image_id: str, generation: int) -> None:
        """Idempotent while the job is pending (see :func:`~imgflow.adapters.sqlite_db.enqueue_job`)."""
        with self.db.transaction() as conn:
            enqueue_job(conn, image_id, generation, self.clock())

    def claim(self, worker_id: str, lease_seconds: float, *, max_attempts: int | None = None) -> Job | None:
        now = self.clock()
        with self.db.transaction() as conn:
            while True:
                row = conn.execute(
                    "SELECT job_id, image_id, generation, attempts, enqueued_at FROM jobs"  # nosec B608 # constants
                    f" WHERE {_CLAIMABLE} ORDER BY available_at, job_id LIMIT 1",
                    (now, now),
                ).fetchone()
                if row is None:
                    return None
                job_id, image_id, generation, attempts, enqueued_at = row
                if max_attempts is not None and attempts >= max_attempts:
                    conn.execute(
                        "UPDATE jobs SET dead = 1, dead_reason = ?, lease_token = NULL, lease_expires_at = NULL,"
                        " worker_id = NULL WHERE job_id = ?",
                        (f"gave up after {attempts} attempts", job_id),
                    )
                    continue
                token = secrets.token_hex(16)
                expires = now + lease_seconds
                conn.execute(
                    "UPDATE jobs SET attempts = attempts + 1, lease_token = ?, lease_expires_at = ?, worker_id = ?,"
                    " rerun = 0 WHERE job_id = ?",
                    (token, expires, worker_id, job_id),
                )
                return Job(job_id, image_id, generation, attempts + 1, token, expires, enqueued_at)

    def ready(self) -> bool:
        return job_ready(self.db.connection(), _READY, self.clock())  # a plain read in WAL mode: no lock

    def _owned(self, job_id: int, token: str, sql: str, args: tuple[object, ...]) -> None:
        """Run ``sql`` (ending in ``WHERE job_id = ? AND lease_token = ?``) or raise LeaseLost."""
        with self.db.transaction() as conn:
            if conn.execute(sql, (*args, job_id, token)).rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased with this token")

    def renew(self, job_id: int, token: str, lease_seconds: float) -> float:
        expires = self.clock() + lease_seconds
        self._owned(job_id, token, "UPDATE jobs SET lease_expires_at = ? WHERE job_id = ? AND lease_token = ?",
                    (expires,))  # fmt: skip
        return expires

    def finish(self, job_id: int, token: str) -> None:
        """Done: delete the job, unless the record was queued again meanwhile (then it runs once more)."""
        now = self.clock()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET rerun = 0, attempts = 0, lease_token = NULL, lease_expires_at = NULL,"
                " worker_id = NULL, available_at = ? WHERE job_id = ? AND lease_token = ? AND rerun = 1",
                (now, job_id, token),
            )
            if cur.rowcount == 1:
                return
            if conn.execute("DELETE FROM jobs WHERE job_id = ? AND lease_token = ?", (job_id, token)).rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased with this token")

    def release(self, job_id: int, token: str, *, delay: float = 0.0) -> None:
        """Give the job back: available again after ``delay`` seconds. The attempt still counts."""
        self._owned(
            job_id, token,
            "UPDATE jobs SET lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, available_at = ?"
            " WHERE job_id = ? AND lease_token = ?",
            (self.clock() + delay,),
        )  # fmt: skip

    def dead_letter(self, job_id: int, token: str, reason: str) -> None:
        self._owned(
            job_id, token,
            "UPDATE jobs SET dead = 1, dead_reason = ?, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL"
            " WHERE job_id = ? AND lease_token = ?",
            (reason[:1000],),
        )  # fmt: skip

    def held(self, worker_id: str | None = None) -> list[HeldJob]:
        """Jobs under a lease (whether or not it expired), all or ``worker_id``'s."""
        sql = (
            "SELECT worker_id, job_id, image_id, generation, attempts, lease_token, lease_expires_at, enqueued_at"
            " FROM jobs WHERE dead = 0 AND lease_token IS NOT NULL"
        )
        args: tuple[object, ...] = ()
        if worker_id is not None:
            sql, args = sql + " AND worker_id = ?", (worker_id,)
        with self.db.connection() as conn:
            rows = conn.execute(sql + " ORDER BY job_id", args).fetchall()
        return [HeldJob(r[0] or "", Job(r[1], r[2], r[3], r[4], r[5], r[6] or 0.0, r[7])) for r in rows]

    def depth(self) -> int:
        """Live jobs: waiting or being worked on (not dead)."""
        with self.db.connection() as conn:
            return int(conn.execute("SELECT count(*) FROM jobs WHERE dead = 0").fetchone()[0])

    def dead(self) -> list[DeadJob]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT job_id, image_id, generation, attempts, dead_reason, enqueued_at FROM jobs"
                " WHERE dead = 1 ORDER BY job_id"
            ).fetchall()
        return [DeadJob(r[0], r[1], r[2], r[3], r[4] or "", r[5]) for r in rows]

    def retry_dead(self, job_id: int) -> None:
        """Put a dead job back in the queue (attempts reset), unless a live one for that image exists."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT image_id, generation FROM jobs WHERE job_id = ? AND dead = 1",
                               (job_id,)).fetchone()  # fmt: skip
            if row is not None:
                conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
                enqueue_job(conn, row[0], row[1], self.clock())
