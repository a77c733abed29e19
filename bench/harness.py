"""Runs the measurements: warm persistent workers for time, fresh processes for memory.

Time: one persistent worker process per engine (per thread budget). Each engine first runs every
input once (warm-up, discarded); then for every round and every input the engines run one after
the other, in an order rotated by one each round, so slow drifts of a shared machine's load land
on every engine alike. Medians are taken over rounds.

Memory: for every (engine, input, threads) a fresh ``bench.worker rss`` process imports its
engine, runs the job twice and reports its own peak resident set (``VmHWM``; see
:func:`bench.worker.peak_kib` for why not ``ru_maxrss``): the whole process's peak for that job alone,
never inflated by an earlier, larger input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from bench.engines import WEBP_EFFORT, malloc_env
from bench.inputs import ROOT, Input

Progress = Callable[[str], None]


def child_env(threads: int, engine: str) -> dict[str, str]:
    """An engine process's environment: ours without glibc's malloc variables, then the engine's
    own (:func:`bench.engines.malloc_env`), its libvips threads, this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(malloc_env(engine), VIPS_CONCURRENCY=str(threads), PYTHONPATH=str(ROOT))
    return env


class Worker:
    """A persistent ``bench.worker serve`` process."""

    def __init__(self, engine: str, threads: int) -> None:
        self.engine = engine
        self.threads = threads
        command = [sys.executable, "-m", "bench.worker", "serve", "--engine", engine, "--threads", str(threads)]
        self._proc = subprocess.Popen(
            command, cwd=ROOT, env=child_env(threads, engine), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, path: str, effort: int) -> dict[str, Any]:
        stdin: IO[str] = self._proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self._proc.stdout  # type: ignore[assignment]
        stdin.write(json.dumps({"path": path, "effort": effort}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            return {"error": f"worker {self.engine} exited with {self._proc.wait()}"}
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@dataclass
class Series:
    """The samples of one (engine, input, threads, effort) measurement."""

    engine: str
    input: str
    threads: int
    effort: int = WEBP_EFFORT
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    #: per run, the warm worker's peak RSS during that job (its peak reset before each run)
    warm_peak_kib: list[int] = field(default_factory=list)

    def add(self, reply: dict[str, Any]) -> None:
        if "error" in reply:
            self.errors.append(str(reply["error"]))
        else:
            self.ms.append(float(reply["ms"]))
            self.cpu_ms.append(float(reply["cpu_ms"]))
            self.outputs = list(reply["outputs"])
            self.warm_peak_kib.append(int(reply.get("peak_kib", 0)))


def rotate(items: list[str], by: int) -> list[str]:
    by %= len(items) or 1
    return items[by:] + items[:by]


def time_engines(
    engines: list[str], inputs: list[Input], threads: int, rounds: int, progress: Progress
) -> list[Series]:
    series = {(e, i.key): Series(e, i.key, threads) for e in engines for i in inputs}
    workers = {e: Worker(e, threads) for e in engines}
    try:
        for engine in engines:  # warm-up: imports, first-touch allocations, codec tables
            for item in inputs:
                reply = workers[engine].run(item.path, WEBP_EFFORT)
                if "error" in reply:
                    series[engine, item.key].errors.append(f"warm-up: {reply['error']}")
        for r in range(rounds):
            progress(f"{threads} thread(s): round {r + 1}/{rounds}")
            for n, item in enumerate(inputs):
                for engine in rotate(engines, r + n):
                    series[engine, item.key].add(workers[engine].run(item.path, WEBP_EFFORT))
    finally:
        for worker in workers.values():
            worker.close()
    return list(series.values())


def time_efforts(engines: list[str], item: Input, efforts: list[int], rounds: int, progress: Progress) -> list[Series]:
    """WebP effort sweep at one thread: every (engine, effort) pair interleaved like the main runs."""
    keys = [f"{e}@{x}" for e in engines for x in efforts]
    series = {k: Series(k.split("@")[0], item.key, 1, int(k.split("@")[1])) for k in keys}
    workers = {e: Worker(e, 1) for e in engines}
    try:
        for engine in engines:
            workers[engine].run(item.path, WEBP_EFFORT)
        for r in range(rounds):
            progress(f"WebP effort sweep: round {r + 1}/{rounds}")
            for key in rotate(keys, r):
                s = series[key]
                s.add(workers[s.engine].run(item.path, s.effort))
    finally:
        for worker in workers.values():
            worker.close()
    return list(series.values())


def peak_rss(engine: str, item: Input, threads: int, runs: int = 2) -> dict[str, Any]:
    """A fresh process: import the engine, run the job ``runs`` times, report its peak RSS."""
    command = [sys.executable, "-m", "bench.worker", "rss", "--engine", engine, "--threads", str(threads)]
    command += ["--path", item.path, "--effort", str(WEBP_EFFORT), "--runs", str(runs)]
    started = time.perf_counter()
    env = child_env(threads, engine)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    reply: dict[str, Any] = json.loads(lines[-1])
    reply["seconds"] = round(time.perf_counter() - started, 2)
    return reply


def measure_rss(
    engines: list[str], inputs: list[Input], threads: list[int], progress: Progress
) -> list[dict[str, Any]]:
    rows = []
    for t in threads:
        progress(f"peak RSS, fresh processes, {t} thread(s)")
        for item in inputs:
            for engine in engines:
                rows.append({"engine": engine, "input": item.key, "threads": t, **peak_rss(engine, item, t)})
    return rows
