"""What ``imgflow serve`` does about the jobs its workers hold, from outside the workers.

* A worker that dies (crash, ``kill -9``, the OOM killer) is known at once: the jobs it held
  (the queue records each claim's ``worker_id``, ``worker-<pid>``) are released now, with the
  service's retry delay, instead of when their lease would expire.
* A job held longer than ``job_timeout_seconds`` (a hung decode: its heartbeat thread would
  renew the lease for ever) gets its worker killed; the image ends ``failed`` with ``timeout``.
* A worker whose resident memory passes ``worker_memory_limit_mb`` is killed; the image in
  hand ends ``failed`` with ``memory_limit``. RSS, read from ``/proc``, is what the machine
  pays; a worker at rest uses ~50-70 MiB, a 13 MP progressive JPEG peaks at ~140 MiB.

The supervisor calls :meth:`JobGuard.inspect` every tick, kills what it names, then
:meth:`JobGuard.killed`; :meth:`JobGuard.exited` for every worker that ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from imgflow.adapters.job_queue import HeldJob, Job, JobQueue
from imgflow.errors import ImgflowError, LeaseLost
from imgflow.service import ImageService, Kind, Outcome, Reason

log = logging.getLogger("imgflow.supervisor")

#: the job table is read at most this often for the timeout check (RSS is read every tick)
QUEUE_POLL_SECONDS = 0.5
_PAGE = os.sysconf("SC_PAGE_SIZE")


def worker_name(pid: int, host: str | None = None) -> str:
    """The ``worker_id`` a worker claims jobs with: how the supervisor finds a dead worker's jobs.
    On a cluster (one queue, many hosts) it names the host too: ``worker-<pid>@<host>``."""
    return f"worker-{pid}" if host is None else f"worker-{pid}@{host}"


def resident_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """A running process (a zombie nobody reaped is dead too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Verdict:
    pid: int
    code: str
    message: str
    #: the job in hand when the verdict was made (None: the worker held none)
    job: Job | None


class JobGuard:
    def __init__(
        self,
        service: ImageService,
        queue: JobQueue,
        *,
        job_timeout: float,
        memory_limit_bytes: int,
        clock: Callable[[], float] = time.monotonic,
        host: str | None = None,
    ) -> None:
        self.service, self.queue = service, queue
        #: on a cluster, this host's name: only its own workers' jobs are this guard's business
        self.host = host
        self.job_timeout = job_timeout
        self.memory_limit = memory_limit_bytes
        self.clock = clock
        #: lease token -> when this guard first saw it held
        self._seen: dict[str, float] = {}
        self._next_poll = 0.0
        self._verdicts: dict[int, Verdict] = {}

    # --- at start ----------------------------------------------------------------
    def release_orphans(self) -> int:
        """Jobs still held by workers of an earlier run that are gone: back to the queue now."""
        count = 0
        for held in self._held():
            pid = _pid_of(held.worker_id, self.host)
            if pid is None or not pid_alive(pid):
                self._release(held, Reason.WORKER_GONE)
                count += 1
        return count

    # --- every tick ----------------------------------------------------------------
    def inspect(self, pids: Sequence[int]) -> list[int]:
        """The workers to kill now (a verdict is kept for :meth:`killed`)."""
        verdicts: dict[int, Verdict] = {}
        held: list[HeldJob] | None = None
        for pid in pids:
            rss = resident_bytes(pid)
            if rss is not None and rss > self.memory_limit:
                held = self._held() if held is None else held
                message = f"the worker passed its memory ceiling ({self.memory_limit // 2**20} MiB resident)"
                verdicts[pid] = Verdict(pid, Reason.MEMORY_LIMIT, message, _job_of(held, worker_name(pid, self.host)))
        now = self.clock()
        if now >= self._next_poll:
            self._next_poll = now + QUEUE_POLL_SECONDS
            held = self._held() if held is None else held
            tokens = {h.job.token for h in held}
            self._seen = {t: s for t, s in self._seen.items() if t in tokens}
            for h in held:
                since = self._seen.setdefault(h.job.token, now)
                owner = _pid_of(h.worker_id, self.host)
                if owner is not None and owner in pids and owner not in verdicts and now - since > self.job_timeout:
                    message = f"the job ran longer than its {self.job_timeout:g} s timeout"
                    verdicts[owner] = Verdict(owner, Reason.TIMEOUT, message, h.job)
        for verdict in verdicts.values():
            log.warning(
                "stopping a worker",
                extra={"worker_pid": verdict.pid, "code": verdict.code,
                       "image_id": verdict.job.image_id if verdict.job else None},
            )  # fmt: skip
        self._verdicts.update(verdicts)
        return list(verdicts)

    def killed(self, pid: int) -> None:
        """The worker named by :meth:`inspect` is dead: its image ends ``failed``, not retried."""
        verdict = self._verdicts.pop(pid, None)
        if verdict is None or verdict.job is None:
            return
        job = verdict.job
        failed = self.service.end_attempt(job.image_id, job.token, verdict.code, verdict.message)
        with contextlib.suppress(LeaseLost):
            self.queue.finish(job.job_id, job.token)
        log.warning(
            "job stopped",
            extra={"image_id": job.image_id, "job_id": job.job_id, "code": verdict.code, "failed": failed is not None},
        )

    def exited(self, pid: int) -> None:
        """Any worker exit: what it still held goes back to the queue now (the attempt counts)."""
        self._verdicts.pop(pid, None)
        for held in self.queue.held(worker_name(pid, self.host)):
            self._release(held, Reason.WORKER_DIED)

    # --- helpers ---------------------------------------------------------------------
    def _held(self) -> list[HeldJob]:
        """The jobs this host's workers hold (all of them locally: one host, one queue)."""
        held = self.queue.held()
        return held if self.host is None else [h for h in held if h.worker_id.endswith(f"@{self.host}")]

    def _release(self, held: HeldJob, reason: str) -> None:
        job = held.job
        self.service.release_attempt(job.image_id, job.token)
        delay = self.service.retry_delay(Outcome(Kind.RETRY_LATER, job.image_id, reason=reason), job.attempts)
        try:
            if delay is None:
                self.queue.dead_letter(job.job_id, job.token, f"gave up after {job.attempts} deliveries ({reason})")
                self.service.dead_letter(job.image_id, f"gave up after {job.attempts} deliveries ({reason})")
            else:
                self.queue.release(job.job_id, job.token, delay=delay)
        except LeaseLost:
            return
        except ImgflowError as exc:
            log.warning("could not release a job; its lease expires", extra={"job_id": job.job_id, "code": exc.code})
            return
        log.warning(
            "job released",
            extra={"image_id": job.image_id, "job_id": job.job_id, "reason": reason, "attempt": job.attempts,
                   "worker": held.worker_id, "retry_in_s": delay},
        )  # fmt: skip


def _pid_of(worker_id: str, host: str | None = None) -> int | None:
    """The pid in a :func:`worker_name` of this host (None: not one, or another host's)."""
    if host is not None:
        worker_id, at, on = worker_id.rpartition("@")
        if not at or on != host:
            return None
    head, _, tail = worker_id.rpartition("-")
    return int(tail) if head == "worker" and tail.isdigit() else None


def _job_of(held: list[HeldJob], name: str) -> Job | None:
    return next((h.job for h in held if h.worker_id == name), None)
