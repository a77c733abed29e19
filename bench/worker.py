"""One engine in one process: ``python -m bench.worker serve|rss --engine E --threads N``.

``serve`` keeps the engine warm and answers one JSON request per stdin line
(``{"path": ..., "effort": 4}``) with the wall and CPU time of one run. ``rss`` runs the job
``--runs`` times in this fresh process and reports its peak resident set (``VmHWM``): the peak of the whole process,
interpreter and libraries included, which is what a Lambda or container limit sees.
The harness starts both with ``VIPS_CONCURRENCY=N`` and the engine's malloc variables
(:func:`bench.engines.malloc_env`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import IO

from bench import peer
from bench.engines import ENGINES, EngineModule, helper_pid, load

#: a peer's process (thumbor's server, sharp's Node.js worker), set by main() after prepare()
_HELPER: int | None = None


def _cpu_s() -> float:
    """This process's CPU time, plus the peer process's when the engine runs in one."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    return own + (peer.cpu_s(_HELPER) if _HELPER is not None else 0.0)


def peak_kib() -> int:
    """This process's peak resident set (``VmHWM``), in KiB.

    Not ``ru_maxrss``: Linux carries the parent's peak into ``ru_maxrss`` across fork and exec, so
    every child of a 100 MiB harness would report at least 100 MiB. ``VmHWM`` belongs to the
    process's own address space, which exec makes new. For a peer engine, the peer's process.
    """
    if _HELPER is not None:
        return peer.peak_kib(_HELPER)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak() -> bool:
    """Lower the peak to the current RSS (Linux >= 4.0), so a warm worker can report one job's peak."""
    if _HELPER is not None:
        peer.reset_peak(_HELPER)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _run_once(engine: EngineModule, data: bytes, threads: int, effort: int) -> dict[str, object]:
    cpu = _cpu_s()
    start = time.perf_counter()
    outputs = engine.run(data, threads, effort)
    wall = time.perf_counter() - start
    return {
        "ms": wall * 1000,
        "cpu_ms": (_cpu_s() - cpu) * 1000,
        "outputs": [asdict(o) for o in outputs],
    }


def serve(engine: EngineModule, threads: int, out: IO[str]) -> None:
    cache: dict[str, bytes] = {}
    for line in sys.stdin:
        request = json.loads(line)
        path = str(request["path"])
        try:
            if path not in cache:
                cache[path] = Path(path).read_bytes()
            reset_peak()
            reply = _run_once(engine, cache[path], threads, int(request["effort"]))
        except Exception as exc:  # reported to the harness, which records it per measurement
            reply = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=4)}
        reply["peak_kib"] = peak_kib()
        out.write(json.dumps(reply) + "\n")
        out.flush()


def rss(engine: EngineModule, threads: int, path: str, effort: int, runs: int, out: IO[str]) -> None:
    data = Path(path).read_bytes()
    reply: dict[str, object] = {"baseline_kib": peak_kib()}
    try:
        peaks = []
        for _ in range(runs):
            reply["outputs"] = _run_once(engine, data, threads, effort)["outputs"]
            peaks.append(peak_kib())
        reply["peak_kib_first"] = peaks[0]
        reply["peak_kib"] = peaks[-1]
        reply["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except Exception as exc:
        reply["error"] = f"{type(exc).__name__}: {exc}"
    out.write(json.dumps(reply) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("mode", choices=["serve", "rss"])
    parser.add_argument("--engine", choices=list(ENGINES), required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--path")
    parser.add_argument("--effort", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    # Replies go to the real stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    engine = load(args.engine)
    engine.prepare(args.threads)
    global _HELPER
    _HELPER = helper_pid(engine)
    if args.mode == "serve":
        serve(engine, args.threads, out)
    else:
        rss(engine, args.threads, args.path, args.effort, args.runs, out)


if __name__ == "__main__":
    main()
