"""A child of ``imgflow serve`` never outlives it, and never grows without bound.

* ``PR_SET_PDEATHSIG`` (Linux ``prctl``): the kernel sends SIGTERM when the parent dies,
  so a worker stops claiming and finishes the job in hand. A thread also polls the parent
  pid (other systems, and the case where the parent died before the ``prctl``); once the
  parent is gone, a worker still busy after ``grace`` seconds exits at once.
* ``RLIMIT_AS``: a backstop above the supervisor's RSS ceiling, for an allocation burst
  faster than its poll: the allocation fails (Python's MemoryError ends the image
  ``memory_limit``) instead of the machine swapping.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal
import threading
import time

log = logging.getLogger("imgflow.worker")

PR_SET_PDEATHSIG = 1
#: the supervisor's pid, passed to its children (their getppid() may already be a reaper)
PARENT_ENV = "IMGFLOW_PARENT_PID"
POLL_SECONDS = 1.0
ORPHAN_EXIT = 70


def _set_pdeathsig() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def die_with_parent(grace: float) -> None:
    """SIGTERM ourselves when the parent goes; exit hard ``grace`` seconds later if still here."""
    text = os.environ.get(PARENT_ENV, "")
    parent = int(text) if text.isdigit() else os.getppid()
    _set_pdeathsig()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        log.warning("the server is gone; stopping", extra={"parent_pid": parent})
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        log.error("still busy after the server went; exiting", extra={"grace_s": grace})
        os._exit(ORPHAN_EXIT)

    threading.Thread(target=watch, name="imgflow-lifeline", daemon=True).start()


def memory_backstop(ceiling_bytes: int) -> int:
    """Cap the address space at twice the RSS ceiling (at least ceiling + 1 GiB: virtual memory
    counts reserved, untouched pages too). Returns the cap, 0 if it could not be set."""
    cap = max(2 * ceiling_bytes, ceiling_bytes + 2**30)
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError):
        return 0
    return cap
