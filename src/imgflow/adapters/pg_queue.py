"""The cluster's job queue (a :class:`~imgflow.adapters.job_queue.JobQueue`): the ``jobs`` table
in the catalog's PostgreSQL, claimed with ``FOR UPDATE SKIP LOCKED``.

The semantics of :class:`~imgflow.adapters.sqlite_queue.SqliteJobQueue`, statement for
statement: one live job per (image, generation), inserted by the catalog in the transaction
that queues the record; a claim sets a lease token and counts an attempt; ``renew``,
``finish``, ``release`` and ``dead_letter`` hold only with that token (LeaseLost otherwise);
``claim(..., max_attempts=N)`` dead-letters a job already claimed N times. Workers on many
hosts claim concurrently: SKIP LOCKED hands each waiting row to one of them, never two.
Times are the workers' clocks (keep the hosts on NTP), as leases on the records are.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg

from imgflow.adapters.job_queue import DeadJob, HeldJob, Job, job_ready
from imgflow.adapters.pg_db import Database
from imgflow.errors import LeaseLost

#: a job a worker may claim at a time given twice (the claim's and ``ready``'s condition)
_CLAIMABLE_WHERE = "NOT dead AND available_at <= %s AND (lease_expires_at IS NULL OR lease_expires_at < %s)"
_READY = f"SELECT 1 FROM jobs WHERE {_CLAIMABLE_WHERE} LIMIT 1"  # nosec B608 # constants only
_CLAIMABLE = (
    "SELECT job_id, image_id, generation, attempts, enqueued_at FROM jobs"  # nosec B608 # constants only
    f" WHERE {_CLAIMABLE_WHERE} ORDER BY available_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


def enqueue_job(conn: psycopg.Connection[Any], image_id: str, generation: int, now: float) -> None:
    """Inside the caller's transaction: a duplicate while the job waits changes nothing; a duplicate
    while a worker holds it marks it to run once more when that worker finishes."""
    conn.execute(
        "INSERT INTO jobs (image_id, generation, dedupe_key, enqueued_at, available_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) WHERE NOT dead"
        " DO UPDATE SET rerun = true WHERE jobs.lease_token IS NOT NULL",
        (image_id, generation, f"{image_id}/{generation}", now, now),
    )


class PgJobQueue:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def close(self) -> None:
        self.db.close()

    def enqueue(self, image_id: str, generation: int) -> None:
        with self.db.transaction() as conn:
            enqueue_job(conn, image_id, generation, self.clock())

    def ready(self) -> bool:
        return job_ready(self.db.connection(), _READY, self.clock())

    def claim(self, worker_id: str, lease_seconds: float, *, max_attempts: int | None = None) -> Job | None:
        now = self.clock()
        with self.db.transaction() as conn:
            while True:
                row = conn.execute(_CLAIMABLE, (now, now)).fetchone()
                if row is None:
                    return None
                job_id, image_id, generation, attempts, enqueued_at = row
                if max_attempts is not None and attempts >= max_attempts:
                    conn.execute(
                        "UPDATE jobs SET dead = true, dead_reason = %s, lease_token = NULL, lease_expires_at = NULL,"
                        " worker_id = NULL WHERE job_id = %s",
                        (f"gave up after {attempts} attempts", job_id),
                    )
                    continue
                token = secrets.token_hex(16)
                expires = now + lease_seconds
                conn.execute(
                    "UPDATE jobs SET attempts = attempts + 1, lease_token = %s, lease_expires_at = %s,"
                    " worker_id = %s, rerun = false WHERE job_id = %s",
                    (token, expires, worker_id, job_id),
                )
                return Job(job_id, image_id, generation, attempts + 1, token, expires, enqueued_at)

    def _owned(self, job_id: int, token: str, sql: str, args: tuple[object, ...]) -> None:
        """Run ``sql`` (ending in ``WHERE job_id = %s AND lease_token = %s``) or raise LeaseLost."""
        with self.db.connection() as conn:
            if conn.execute(sql.encode(), (*args, job_id, token)).rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased with this token")

    def renew(self, job_id: int, token: str, lease_seconds: float) -> float:
        expires = self.clock() + lease_seconds
        self._owned(job_id, token, "UPDATE jobs SET lease_expires_at = %s WHERE job_id = %s AND lease_token = %s",
                    (expires,))  # fmt: skip
        return expires

    def finish(self, job_id: int, token: str) -> None:
        """Done: delete the job, unless the record was queued again meanwhile (then it runs once more)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET rerun = false, attempts = 0, lease_token = NULL, lease_expires_at = NULL,"
                " worker_id = NULL, available_at = %s WHERE job_id = %s AND lease_token = %s AND rerun",
                (self.clock(), job_id, token),
            )
            if cur.rowcount == 1:
                return
            if conn.execute("DELETE FROM jobs WHERE job_id = %s AND lease_token = %s", (job_id, token)).rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased with this token")

    def release(self, job_id: int, token: str, *, delay: float = 0.0) -> None:
        self._owned(
            job_id, token,
            "UPDATE jobs SET lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, available_at = %s"
            " WHERE job_id = %s AND lease_token = %s",
            (self.clock() + delay,),
        )  # fmt: skip

    def dead_letter(self, job_id: int, token: str, reason: str) -> None:
        self._owned(
            job_id, token,
            "UPDATE jobs SET dead = true, dead_reason = %s, lease_token = NULL, lease_expires_at = NULL,"
            " worker_id = NULL WHERE job_id = %s AND lease_token = %s",
            (reason[:1000],),
        )  # fmt: skip

    def held(self, worker_id: str | None = None) -> list[HeldJob]:
        sql = (
            "SELECT worker_id, job_id, image_id, generation, attempts, lease_token, lease_expires_at, enqueued_at"
            " FROM jobs WHERE NOT dead AND lease_token IS NOT NULL AND (%s::text IS NULL OR worker_id = %s)"
            " ORDER BY job_id"
        )
        with self.db.connection() as conn:
            rows = conn.execute(sql, (worker_id, worker_id)).fetchall()
        return [HeldJob(r[0] or "", Job(r[1], r[2], r[3], r[4], r[5], r[6] or 0.0, r[7])) for r in rows]

    def depth(self) -> int:
        with self.db.connection() as conn:
            row = conn.execute("SELECT count(*) FROM jobs WHERE NOT dead").fetchone()
        return int(row[0]) if row else 0

    def dead(self) -> list[DeadJob]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT job_id, image_id, generation, attempts, dead_reason, enqueued_at FROM jobs"
                " WHERE dead ORDER BY job_id"
            ).fetchall()
        return [DeadJob(r[0], r[1], r[2], r[3], r[4] or "", r[5]) for r in rows]

    def retry_dead(self, job_id: int) -> None:
        with self.db.transaction() as conn:
            row = conn.execute("DELETE FROM jobs WHERE job_id = %s AND dead RETURNING image_id, generation",
                               (job_id,)).fetchone()  # fmt: skip
            if row is not None:
                enqueue_job(conn, row[0], row[1], self.clock())
