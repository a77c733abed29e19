"""Several API processes on one listening socket (``imgflow serve --processes N``).

Each child is started with multiprocessing's *spawn* (a fresh interpreter: nothing of the
parent's threads, SQLite connections or event loop comes along), receives the listening socket,
builds its own app from the picklable ``app_factory`` and runs uvicorn on the socket: the kernel
hands each new connection to whichever process accepts it first. A child sits in a process group
of its own, so a Ctrl+C in the terminal reaches only the parent, which then asks every child to
stop (SIGTERM: finish the requests in flight) and, on a second signal, to stop at once (SIGINT
after SIGTERM: uvicorn's forced exit). A child that dies while serving is started again after a
backoff; one that could not start its app while no child ever started ends the whole group.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger("imgflow.serve")

#: a child's exit code when its app or its server did not start
NOT_STARTED = 3
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
#: a child that served this long was healthy: the next crash restarts quickly again
HEALTHY_AFTER = 60.0
#: a child still running this long after it was asked to stop is killed
KILL_AFTER = 30.0


class TakeTurns(socket.socket):
    """A listening socket that accepts one connection each time the event loop finds it ready.

    asyncio accepts up to its backlog in one go (``sock.accept()`` in a loop until it would
    block), so with several processes on one socket the first to wake takes a whole burst of
    connections (all 16 of a load generator's) and the others idle. Taking one and returning to
    the loop lets every process that woke take its share; an idle process, back in its loop first,
    takes the next one."""

    _took_one = False

    def accept(self) -> tuple[socket.socket, Any]:
        if self._took_one:
            self._took_one = False
            raise BlockingIOError  # asyncio ends this round of accepts; the next readiness event starts another
        taken = super().accept()
        self._took_one = True
        return taken


def take_turns(listening: socket.socket) -> TakeTurns:
    return TakeTurns(listening.family, listening.type, listening.proto, fileno=listening.detach())


class ReadyServer(uvicorn.Server):
    """uvicorn's server, calling ``ready()`` once it accepts."""

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.ready is not None:
            self.ready()


def _child(
    app_factory: Callable[[], ASGIApp],
    make_config: Callable[[ASGIApp], uvicorn.Config],
    listening: socket.socket,
    ready: Event,
    parent: int,
    log_service: str,
) -> None:
    from imgflow.runtimes.local.lifeline import PARENT_ENV, die_with_parent
    from imgflow.runtimes.local.logs import setup_logging

    os.setpgid(0, 0)  # the terminal's Ctrl+C goes to the parent, which stops us in order
    os.environ[PARENT_ENV] = str(parent)
    die_with_parent(KILL_AFTER)
    setup_logging(log_service)
    try:
        server = ReadyServer(make_config(app_factory()), ready.set)
    except Exception:
        log.exception("the API process could not build its app")
        raise SystemExit(NOT_STARTED) from None
    server.run(sockets=[take_turns(listening)])
    raise SystemExit(0 if server.started else NOT_STARTED)


class ProcessGroup:
    """The parent's side: start ``count`` children, restart the ones that die, stop them all."""

    def __init__(
        self,
        app_factory: Callable[[], ASGIApp],
        make_config: Callable[[ASGIApp], uvicorn.Config],
        listening: socket.socket,
        count: int,
        *,
        log_service: str,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._args: tuple[Any, ...] = (app_factory, make_config, listening)
        self.ready = self._context.Event()
        self.count = count
        self.log_service = log_service
        self.on_exit = on_exit
        self.children: dict[int, BaseProcess] = {}  # slot -> process
        self._started: dict[int, float] = {}
        self._backoff = dict.fromkeys(range(count), BACKOFF_START)
        self._restart_at: dict[int, float] = {}
        self.stopping = 0.0  # when the first stop signal came (0: serving)
        self.signals = 0
        self._codes: set[int | None] = set()

    def pids(self) -> list[int]:
        return [p.pid for p in self.children.values() if p.pid is not None and p.is_alive()]

    def _start(self, slot: int) -> None:
        args = (*self._args, self.ready, os.getpid(), self.log_service)
        proc = self._context.Process(target=_child, args=args, name=f"imgflow-api-{slot}", daemon=False)
        proc.start()
        self.children[slot] = proc
        self._started[slot] = time.monotonic()

    def signal(self, signum: int) -> None:
        """The first stop signal: children finish what they serve; a later one: at once."""
        self.signals += 1
        if not self.stopping:
            self.stopping = time.monotonic()
        self._send(signal.SIGTERM if self.signals == 1 else signal.SIGINT)

    def _send(self, signum: int) -> None:
        for proc in self.children.values():
            if proc.pid is not None and proc.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    def run(self) -> int:
        """Serve until stopped; 0 if the children served, 1 if none ever started."""
        for slot in range(self.count):
            self._start(slot)
        while self.children or (self._restart_at and not self.stopping):
            self._restart_due()
            sentinels = [p.sentinel for p in self.children.values()]
            if sentinels:
                wait(sentinels, timeout=0.5)
            else:
                time.sleep(0.1)
            for slot, proc in list(self.children.items()):
                if proc.exitcode is not None:
                    self._reap(slot, proc)
            if not self.ready.is_set() and NOT_STARTED in self._codes:
                log.error("the API processes did not start")
                self.signal(signal.SIGTERM)
            if self.stopping and time.monotonic() - self.stopping > KILL_AFTER:
                self._send(signal.SIGKILL)
        return 0 if self.ready.is_set() else 1

    def _reap(self, slot: int, proc: BaseProcess) -> None:
        del self.children[slot]
        proc.join()
        if proc.pid is not None and self.on_exit is not None:
            self.on_exit(proc.pid)
        self._codes.add(proc.exitcode)
        if self.stopping:
            return
        lived = time.monotonic() - self._started[slot]
        backoff = BACKOFF_START if lived > HEALTHY_AFTER else self._backoff[slot]
        self._backoff[slot] = min(backoff * 2, BACKOFF_MAX)
        self._restart_at[slot] = time.monotonic() + backoff
        log.warning(
            "an API process exited; starting another",
            extra={"pid": proc.pid, "exit_code": proc.exitcode, "restart_in_s": backoff},
        )

    def _restart_due(self) -> None:
        if self.stopping:
            self._restart_at.clear()
            return
        now = time.monotonic()
        for slot, when in list(self._restart_at.items()):
            if when <= now:
                del self._restart_at[slot]
                self._start(slot)
