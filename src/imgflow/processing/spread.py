"""Run a job's encodes on at most ``threads`` threads, the calling thread included.

libjpeg and libwebp encode one image on one thread whatever libvips' concurrency says, so a
second thread is only used if the renditions' encodes overlap. With one thread every task runs
inline when submitted (no pool, no extra thread). With N threads, N - 1 pool workers take tasks
in submission order while the caller keeps working (the next resize of the cascade); at
:meth:`Spread.gather` the caller runs every task no worker has started yet, so it never idles and
never adds a thread beyond the budget. pyvips (cffi) releases the GIL inside libvips, so the
threads really run in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Spread(Generic[T]):
    def __init__(self, threads: int) -> None:
        workers = threads - 1
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="imgflow-encode") if workers > 0 else None
        self._tasks: list[tuple[Future[T] | None, Callable[[], T]]] = []
        self._inline: dict[int, T] = {}

    def submit(self, task: Callable[[], T]) -> None:
        if self._pool is None:
            self._inline[len(self._tasks)] = task()
            self._tasks.append((None, task))
        else:
            self._tasks.append((self._pool.submit(task), task))

    def gather(self) -> list[T]:
        """Every result, in submission order; a task's exception is raised here."""
        results = dict(self._inline)
        for index, (future, task) in enumerate(self._tasks):
            if future is not None and future.cancel():  # no worker took it: run it here
                results[index] = task()
        for index, (future, _task) in enumerate(self._tasks):
            if future is not None and not future.cancelled():
                results[index] = future.result()
        self._tasks.clear()
        self._inline.clear()
        return [results[i] for i in range(len(results))]

    def __enter__(self) -> Spread[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
