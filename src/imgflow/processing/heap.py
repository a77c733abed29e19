"""glibc's allocator, set for image work: big buffers reused while jobs run, given back when idle.

A job allocates a few large, short-lived buffers: a progressive JPEG's coefficients (40 MB for
13 MP), the decoded and resized images, the encoders' pictures. glibc serves blocks of 128 KiB
and more with a fresh ``mmap`` and unmaps them on free (its threshold then rises, but not past
what a later free trims back), and spreads threads over up to 8 arenas a core: every job paid
10,000-23,000 page faults (25-60 ms of system time on a 13 MP progressive photo) and a warm
process held 200-300 MiB in half-empty arenas.

:func:`tune` (called once, by the engine's lockdown) asks glibc for one arena, blocks up to its
32 MiB ceiling from the heap, and no trimming on free: the next job reuses the pages the last one
faulted in (~500 faults a job; a warm process peaks at ~130 MiB where it peaked at ~250). A
long-lived process calls :func:`release` when it goes idle, which gives every free page back
(``malloc_trim``). Where the process was started with glibc's own malloc variables
(``MALLOC_ARENA_MAX``, ``MALLOC_*_THRESHOLD_``, ``GLIBC_TUNABLES``), those win and nothing is
changed. Not glibc (musl, macOS): both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from functools import cache

#: mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: one arena: every thread's frees serve every other thread's next image
ARENAS = 1
#: glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2: 32 MiB on 64-bit
MMAP_THRESHOLD = 32 * 1024 * 1024
#: free memory at the top of the heap is kept up to this much (release() returns it when idle)
TRIM_THRESHOLD = 1024 * 1024 * 1024
#: the environment variables through which an operator sets glibc's allocator themselves
OPERATOR_VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_lock = threading.Lock()
_state = {"tuned": False}


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (``mallopt`` and ``malloc_trim`` both there)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (musl has mallopt as a stub, not this)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


def operator_set() -> bool:
    """The process was started with some of glibc's malloc settings: they are the operator's."""
    if any(name in os.environ for name in OPERATOR_VARIABLES):
        return True
    return "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")


def tune() -> bool:
    """Set the allocator for image work (once per process). True when this call or an earlier one
    set it; False where glibc is absent or the operator's variables decide."""
    with _lock:
        if _state["tuned"]:
            return True
        libc = _libc()
        if libc is None or operator_set():
            return False
        wanted = ((M_ARENA_MAX, ARENAS), (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        done = all(libc.mallopt(param, value) == 1 for param, value in wanted)
        _state["tuned"] = done
        return done


def tuned() -> bool:
    return _state["tuned"]


def release() -> bool:
    """Give the free heap back to the system (a process going idle after jobs). True if glibc
    returned any memory."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
