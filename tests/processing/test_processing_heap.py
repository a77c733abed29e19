"""glibc's allocator set for image work: big blocks from the heap once tuned (no fresh mmap and
page faults per job), the operator's own malloc variables left alone, the engine's lockdown
tuning it, and release() giving the kept heap back. Each case runs in a fresh interpreter: the
settings are process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="these cases read glibc's allocator (mallinfo2, /proc); elsewhere tune() and release() do nothing",
)

PROBE = """
import ctypes, json, sys
from imgflow.processing import heap

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in FIELDS.split()]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def mmapped_by(size):
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    grown = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grown

out = {}
"""


def _run(body: str, env: dict[str, str] | None = None) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    code = PROBE + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


MIB = 1024 * 1024


def test_untuned_glibc_maps_a_big_block_and_tuned_serves_it_from_the_heap() -> None:
    out = _run(
        f"""
        out["before"] = mmapped_by({16 * MIB})
        out["tuned"] = heap.tune()
        out["after"] = mmapped_by({16 * MIB})
        out["again"] = heap.tune()
        """
    )
    assert out["before"] >= 16 * MIB  # type: ignore[operator]
    assert out["tuned"] is True
    assert out["again"] is True
    assert out["after"] == 0


def test_the_operators_malloc_variables_win() -> None:
    for env in ({"MALLOC_ARENA_MAX": "2"}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}):
        out = _run(f'out["tuned"] = heap.tune(); out["after"] = mmapped_by({16 * MIB})', env)
        assert out["tuned"] is False, env
        assert out["after"] >= 16 * MIB, env  # type: ignore[operator]


def test_the_engine_lockdown_tunes_the_allocator() -> None:
    out = _run(
        """
        from imgflow.processing import engine
        out["before"] = heap.tuned()
        engine.engine(("jpeg",), 1)
        out["after"] = heap.tuned()
        """
    )
    assert out == {"before": False, "after": True}


def test_release_gives_the_kept_heap_back() -> None:
    """Tuned, 200 MiB freed stays resident (the next job reuses it); release() returns it."""
    out = _run(
        f"""
        heap.tune()
        base = rss_mib()
        blocks = [libc.malloc({8 * MIB}) for _ in range(25)]
        for b in blocks:
            ctypes.memset(b, 1, {8 * MIB})
        out["held"] = rss_mib() - base
        for b in blocks:
            libc.free(b)
        out["kept"] = rss_mib() - base
        out["released"] = heap.release()
        out["after"] = rss_mib() - base
        """
    )
    assert out["held"] > 190  # type: ignore[operator]
    assert out["kept"] > 190  # type: ignore[operator]
    assert out["released"] is True
    assert out["after"] < 20  # type: ignore[operator]
