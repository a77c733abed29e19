"""What every engine shares: the job (the default recipe's geometry and codecs), the output record,
the registry, and a thread budget for engines that spread their encodes over threads.

An engine module exposes ``prepare(threads) -> None`` (once per process, before any run) and
``run(data, threads, webp_effort) -> list[Output]``. Engines import their image library lazily so
that a worker process only pays for the library it benchmarks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

#: the default recipe: longest edge in px, contain, no upscale; each size as JPEG and WebP
SIZES: tuple[tuple[str, int], ...] = (("large", 2048), ("medium", 1024), ("thumb", 256))
JPEG_QUALITY = 82
WEBP_QUALITY = 80
#: libvips' and libwebp's default; Pillow calls it ``method``
WEBP_EFFORT = 4

#: name -> module, in the order tables list them
ENGINES: dict[str, str] = {
    "imgflow": "bench.engine_imgflow",
    "pillow-good": "bench.engine_pillow",
    "pillow-good-heap": "bench.engine_pillow",
    "pillow-tutorial": "bench.engine_pillow_tutorial",
    "floor": "bench.engine_floor",
    "floor-pillow": "bench.engine_floor_pillow",
    "sharp-each": "bench.engine_sharp:each",
    "sharp-cascade": "bench.engine_sharp:cascade",
    "thumbor": "bench.engine_thumbor:engine",
}
#: engines in their own runtime, installed by ``make bench-peers`` (run when installed)
PEERS = ("sharp-each", "sharp-cascade", "thumbor")
LABELS: dict[str, str] = {
    "imgflow": "imgflow (default recipe)",
    "pillow-good": "Pillow, well written",
    "pillow-good-heap": "Pillow, well written, with imgflow's malloc settings",
    "pillow-tutorial": "Pillow, tutorial",
    "floor": "codec floor (imgflow's codecs)",
    "floor-pillow": "codec floor (Pillow's codecs)",
    "sharp-each": "sharp, one pipeline per output",
    "sharp-cascade": "sharp, cascade",
    "thumbor": "thumbor, warm server",
}

#: glibc's allocator in each engine's process. imgflow's engines set their own at the engine's
#: lockdown (``imgflow.processing.heap``: one arena, big blocks from the heap, no trim on free), so
#: their process gets none of glibc's variables; every other engine runs as it did before
#: (``MALLOC_ARENA_MAX=2``); "pillow-good-heap" is Pillow given imgflow's settings through glibc's
#: own variables, to show what they are worth to Pillow.
SELF_TUNED = ("imgflow", "floor")


def malloc_env(engine: str) -> dict[str, str]:
    """The malloc variables ``engine``'s process starts with (an empty dict: none of glibc's)."""
    if engine in SELF_TUNED:
        return {}
    if engine == "pillow-good-heap":
        from imgflow.processing import heap  # the values tune() gives mallopt, not a copy of them

        return {
            "MALLOC_ARENA_MAX": str(heap.ARENAS),
            "MALLOC_MMAP_THRESHOLD_": str(heap.MMAP_THRESHOLD),
            "MALLOC_TRIM_THRESHOLD_": str(heap.TRIM_THRESHOLD),
        }
    return {"MALLOC_ARENA_MAX": "2"}


@dataclass(frozen=True)
class Output:
    name: str
    format: str
    width: int
    height: int
    bytes: int


class EngineModule(Protocol):
    def prepare(self, threads: int) -> None: ...

    def run(self, data: bytes, threads: int, webp_effort: int) -> list[Output]: ...


def load(engine: str) -> EngineModule:
    """The engine's module, or for ``module:name`` that module's object ``name`` (a peer)."""
    module_name, _, attribute = ENGINES[engine].partition(":")
    module = importlib.import_module(module_name)
    found: EngineModule = getattr(module, attribute) if attribute else module
    return found


def helper_pid(engine: EngineModule) -> int | None:
    """The process a peer engine drives (thumbor's server, sharp's Node.js worker), if any: its CPU
    time and peak RSS are the engine's, the bench worker being only its client."""
    method = getattr(engine, "helper_pid", None)
    pid = method() if method is not None else None
    return pid if isinstance(pid, int) else None


def contain(width: int, height: int, edge: int) -> tuple[int, int]:
    """The box a ``contain``, no-upscale rendition of ``edge`` px on the longest side gets."""
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


T = TypeVar("T")


class Budget(Generic[T]):
    """Run tasks with at most ``threads`` threads busy, the calling thread included.

    With one thread a task runs inline when submitted. Otherwise ``threads - 1`` pool workers take
    tasks in order while the caller keeps working (say, on the next resize of a cascade); at
    :meth:`gather` the caller runs whatever no worker has started yet (the not-yet-started future
    is cancelled and the task run here), so the caller never idles and never adds a thread beyond
    the budget. Pillow, pyvips (cffi) and the codecs release the GIL, so the threads run in parallel.
    """

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads - 1) if threads > 1 else None
        self._tasks: list[tuple[Future[T] | None, Callable[[], T], T | None]] = []

    def submit(self, task: Callable[[], T]) -> None:
        if self._pool is None:
            self._tasks.append((None, task, task()))
        else:
            self._tasks.append((self._pool.submit(task), task, None))

    def gather(self) -> list[T]:
        """Results in submission order; the caller first runs every task no worker has started."""
        results: list[T | None] = []
        for future, task, done in self._tasks:
            results.append(task() if future is not None and future.cancel() else done)
        for index, (future, _task, _done) in enumerate(self._tasks):
            if future is not None and not future.cancelled():
                results[index] = future.result()
        self._tasks.clear()
        return results  # type: ignore[return-value]

    def __enter__(self) -> Budget[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
