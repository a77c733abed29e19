"""The local on-demand cache: a folder of rendered files with a size cap, least recently used first.

The render processes write entries (temp file, then rename: a reader never sees half a file);
the server process alone keeps the index (an ordered dict rebuilt from the folder at start),
serves hits and evicts. An entry's name is its cache key; its extension gives the content type.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

CACHE_DIRNAME = "ondemand-cache"
_TMP = ".tmp"
#: the most recently read small entries are also kept in memory (a hit then costs no system call)
MEMORY_MAX_BYTES = 64 * 1024 * 1024
MEMORY_ENTRY_MAX_BYTES = 1024 * 1024


def entry_path(root: Path, key: str, extension: str) -> Path:
    return root / key[:2] / f"{key}.{extension}"


def write_entry(root: Path, key: str, extension: str, data: bytes) -> Path:
    """Atomically place an entry (the render processes call this)."""
    path = entry_path(root, key, extension)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = root / _TMP / f"{key}.{os.getpid()}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


class RenderCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        #: key -> (path, size), least recently used first
        self._index: OrderedDict[str, tuple[Path, int]] = OrderedDict()
        self.size = 0
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_size = 0
        root.mkdir(parents=True, exist_ok=True)
        self._scan()

    def _scan(self) -> None:
        entries = []
        for path in self.root.glob("??/*.*"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, path.name.split(".", 1)[0], path, stat.st_size))
        for _mtime, key, path, size in sorted(entries):
            self._index[key] = (path, size)
            self.size += size
        for stale in (self.root / _TMP).glob("*"):
            with contextlib.suppress(OSError):
                stale.unlink()
        self._evict()

    def get(self, key: str) -> Path | None:
        """The entry's file, marked as just used; None on a miss."""
        with self._lock:
            hit = self._index.get(key)
            if hit is None:
                return None
            self._index.move_to_end(key)
            return hit[0]

    def read(self, key: str) -> bytes | None:
        """The entry's bytes (from memory when it was read lately), marked as just used; None on
        a miss, or when its file went missing (the entry is then forgotten)."""
        with self._lock:
            hit = self._index.get(key)
            if hit is None:
                return None
            self._index.move_to_end(key)
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                return data
        try:
            data = hit[0].read_bytes()
        except FileNotFoundError:
            self.forget(key)
            return None
        if len(data) <= MEMORY_ENTRY_MAX_BYTES:
            with self._lock:
                if key in self._index and key not in self._memory:
                    self._memory[key] = data
                    self._memory_size += len(data)
                    while self._memory_size > MEMORY_MAX_BYTES:
                        self._drop_memory(next(iter(self._memory)))
        return data

    def _drop_memory(self, key: str) -> None:
        data = self._memory.pop(key, None)
        if data is not None:
            self._memory_size -= len(data)

    def added(self, key: str, extension: str) -> Path | None:
        """Index an entry a render process wrote; evict the least recently used past the cap (never
        the entry just added: one entry bigger than the cap stays until the next). None if it is not there."""
        path = entry_path(self.root, key, extension)
        try:
            size = path.stat().st_size
        except OSError:
            return None
        with self._lock:
            old = self._index.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._drop_memory(key)
            self._index[key] = (path, size)
            self.size += size
            self._evict()
            return path

    def forget(self, key: str) -> None:
        """Drop an entry whose file went missing."""
        with self._lock:
            old = self._index.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._drop_memory(key)

    def _evict(self) -> None:
        while self.size > self.max_bytes and len(self._index) > 1:
            key, (path, size) = self._index.popitem(last=False)
            self.size -= size
            self._drop_memory(key)
            with contextlib.suppress(OSError):
                path.unlink()

    def __len__(self) -> int:
        return len(self._index)
