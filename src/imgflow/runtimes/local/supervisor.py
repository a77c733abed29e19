"""Keeps N worker processes alive and runs the reconcile sweep on a timer.

A worker that exits while we are running is restarted after a backoff that
doubles on each quick crash (reset once a worker stays up). A ``guard`` (see
:mod:`imgflow.runtimes.local.guard`) is told of every exit, so the jobs a dead worker
held are released at once, and may name workers to kill (a job past its timeout, a
worker past its memory ceiling); each gets SIGKILL, then the guard ends its job. The sweep is a child
process too, which the loop only polls: a long sweep never delays a restart, and
a new sweep starts only once the last one has ended. ``stop`` asks every worker
and the sweep to finish (SIGTERM: finish or release the job in hand), waits, then kills.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imgflow.runtimes.local.lifeline import PARENT_ENV

log = logging.getLogger("imgflow.supervisor")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
#: a worker that lived this long was healthy: its next crash restarts quickly again
HEALTHY_AFTER = 60.0


class WorkerGuard(Protocol):
    def inspect(self, pids: Sequence[int]) -> list[int]:
        """The workers to kill now."""
        ...

    def killed(self, pid: int) -> None:
        """A worker named by :meth:`inspect` is dead (killed and reaped)."""
        ...

    def exited(self, pid: int) -> None:
        """A worker ended, whatever the cause."""
        ...


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_START
    restart_at: float = 0.0
    restarts: int = 0
    history: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        count: int,
        command: Sequence[str],
        env: dict[str, str],
        *,
        reconcile: Sequence[str] | None = None,
        reconcile_interval: float = 300.0,
        on_exit: Callable[[int], None] | None = None,
        guard: WorkerGuard | None = None,
        kind: str = "worker",
    ) -> None:
        #: what its children are, in its log lines ("worker", "renderer"): tools count them apart
        self.kind = kind
        self.slots = [_Slot(i) for i in range(count)]
        self.command = list(command)
        self.env = env
        #: the sweep's command, run with ``env`` every ``reconcile_interval`` seconds
        self.reconcile = list(reconcile) if reconcile else None
        self._sweep: subprocess.Popen[bytes] | None = None
        self._sweep_started = 0.0
        #: a sweep still running after this long is killed, so a hang never stops reconciliation
        self.sweep_timeout = max(4 * reconcile_interval, 600.0)
        self._next_sweep = 0.0
        self.reconcile_interval = reconcile_interval
        self.on_exit = on_exit
        self.guard = guard
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="imgflow-supervisor", daemon=True)

    # --- public ---------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._next_sweep = time.monotonic() + self.reconcile_interval
            for slot in self.slots:
                self._spawn(slot)
        self._thread.start()

    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    def sweep_pid(self) -> int | None:
        """The running reconcile sweep's pid, if one runs."""
        with self._lock:
            return self._sweep.pid if self._sweep is not None and self._sweep.poll() is None else None

    def stop(self, grace: float = 30.0) -> None:
        """Stop restarting; SIGTERM the workers and the sweep; SIGKILL any still running after ``grace`` seconds."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        with self._lock:
            procs = [s.proc for s in self.slots if s.proc is not None]
            if self._sweep is not None:
                procs.append(self._sweep)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        workers = {s.proc.pid for s in self.slots if s.proc is not None}
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("child did not stop in time; killing it", extra={"worker_pid": proc.pid})
                proc.kill()
                proc.wait()
            self._exited(proc.pid, worker=proc.pid in workers)
        log.info(f"{self.kind}s stopped", extra={"workers": len(procs)})

    def kill_now(self) -> None:
        """A second interrupt: no more waiting."""
        with self._lock:
            for proc in [s.proc for s in self.slots] + [self._sweep]:
                if proc is not None and proc.poll() is None:
                    proc.kill()

    # --- the loop ---------------------------------------------------------------
    def _spawn(self, slot: _Slot) -> None:
        slot.proc = subprocess.Popen(self.command, env={**self.env, PARENT_ENV: str(os.getpid())})
        slot.started = time.monotonic()
        slot.history.append(slot.proc.pid)
        log.info(
            f"{self.kind} started", extra={"worker_pid": slot.proc.pid, "slot": slot.index, "restarts": slot.restarts}
        )

    def _exited(self, pid: int, *, worker: bool = False) -> None:
        if self.on_exit is not None:
            try:
                self.on_exit(pid)
            except Exception:  # metrics bookkeeping must never take the supervisor down
                log.exception("on_exit hook failed")
        if worker and self.guard is not None:
            try:
                self.guard.exited(pid)
            except Exception:  # the lease still frees the job later: never take the supervisor down
                log.exception("could not release a dead worker's jobs")

    def _inspect(self) -> None:
        """Kill the workers the guard names (SIGKILL: a hung or bloated worker may not listen),
        reap them, and let the guard end their jobs, before the restart logic sees them gone."""
        if self.guard is None:
            return
        live = {s.proc.pid: s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None}
        try:
            doomed = self.guard.inspect(list(live))
        except Exception:
            log.exception("the worker guard failed")
            return
        for pid in doomed:
            proc = live.get(pid)
            if proc is None:
                continue
            proc.kill()
            proc.wait()
            try:
                self.guard.killed(pid)
            except Exception:
                log.exception("could not end a killed worker's job")

    def _check(self, slot: _Slot, now: float) -> None:
        proc = slot.proc
        if proc is not None:
            code = proc.poll()
            if code is None:
                return
            self._exited(proc.pid, worker=True)
            lived = now - slot.started
            slot.backoff = BACKOFF_START if lived >= HEALTHY_AFTER else min(BACKOFF_MAX, slot.backoff * 2)
            slot.restart_at = now + slot.backoff
            slot.proc = None
            log.warning(
                f"{self.kind} exited; restarting",
                extra={"worker_pid": proc.pid, "returncode": code, "slot": slot.index, "backoff_s": slot.backoff},
            )
            return
        if now >= slot.restart_at:
            slot.restarts += 1
            self._spawn(slot)

    def _tick_sweep(self, now: float) -> None:
        sweep = self._sweep
        if sweep is not None:
            code = sweep.poll()
            if code is None and now - self._sweep_started > self.sweep_timeout:
                log.warning("reconcile sweep hung; killing it", extra={"sweep_pid": sweep.pid})
                sweep.kill()
                code = sweep.wait()
            if code is None:
                return
            self._sweep = None
            self._exited(sweep.pid)
            if code != 0:
                log.warning("reconcile sweep exited with an error", extra={"sweep_pid": sweep.pid, "returncode": code})
        if self.reconcile is None or now < self._next_sweep:
            return
        self._next_sweep = now + self.reconcile_interval
        try:
            self._sweep = subprocess.Popen(self.reconcile, env={**self.env, PARENT_ENV: str(os.getpid())})
            self._sweep_started = now
        except OSError:
            log.exception("could not start the reconcile sweep")
            return
        log.info("reconcile sweep started", extra={"sweep_pid": self._sweep.pid})

    def _run(self) -> None:
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                self._inspect()
                for slot in self.slots:
                    self._check(slot, now)
                self._tick_sweep(now)
