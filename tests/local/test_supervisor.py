"""The supervisor with real child processes: a running sweep never delays a worker's restart.

The sweep here is a child that announces itself with a file and runs until the test releases
it, so every assertion is about order (the restart happened while the sweep was still running),
never about durations; the deadlines only bound a hung test.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imgflow.runtimes.local.supervisor import Supervisor

WORKER = [sys.executable, "-c", "import time; time.sleep(120)"]
SWEEP = """
import os, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
(folder / f"sweep-started-{os.getpid()}").touch()
while not (folder / "release").exists():
    time.sleep(0.05)
(folder / f"sweep-ended-{os.getpid()}").touch()
"""


def wait_for(what: str, check: Callable[[], bool], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(
        1, WORKER, dict(os.environ), reconcile=[sys.executable, "-c", SWEEP, str(tmp_path)], reconcile_interval=0.2
    )
    sup.start()
    yield sup
    sup.stop(grace=5)


def started(folder: Path) -> list[Path]:
    return sorted(folder.glob("sweep-started-*"))


def test_a_worker_is_restarted_while_a_sweep_runs(supervisor: Supervisor, tmp_path: Path) -> None:
    wait_for("the sweep to start", lambda: bool(started(tmp_path)))
    [old] = supervisor.pids()
    os.kill(old, signal.SIGKILL)
    wait_for("the worker's restart", lambda: supervisor.pids() not in ([], [old]))
    # the restart happened while the one sweep was still running, and no second sweep was started
    assert list(tmp_path.glob("sweep-ended-*")) == []
    assert len(started(tmp_path)) == 1
    assert supervisor.sweep_pid() is not None
    # once released, the sweep ends and the next one starts on the timer
    (tmp_path / "release").touch()
    wait_for("the next sweep", lambda: len(list(tmp_path.glob("sweep-ended-*"))) >= 2)


def test_stop_terminates_a_running_sweep(supervisor: Supervisor, tmp_path: Path) -> None:
    wait_for("the sweep to start", lambda: bool(started(tmp_path)))
    sweep = supervisor.sweep_pid()
    assert sweep is not None
    assert alive(sweep)
    workers = supervisor.pids()
    supervisor.stop(grace=5)
    assert not alive(sweep)  # signalled and reaped
    assert not any(alive(pid) for pid in workers)
    assert list(tmp_path.glob("sweep-ended-*")) == []  # it was stopped, it did not finish
    assert supervisor.sweep_pid() is None


def test_a_hung_sweep_is_killed_and_the_next_one_starts(supervisor: Supervisor, tmp_path: Path) -> None:
    wait_for("the sweep to start", lambda: bool(started(tmp_path)))
    first = supervisor.sweep_pid()
    assert first is not None
    supervisor.sweep_timeout = 0.0  # from now on, any running sweep counts as hung
    wait_for("a second sweep", lambda: len(started(tmp_path)) >= 2)
    assert not alive(first) or Path(f"/proc/{first}/status").read_text().find("State:\tZ") >= 0
    assert not (tmp_path / f"sweep-ended-{first}").exists()  # killed, it never finished
