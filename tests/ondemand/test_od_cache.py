"""The local render cache: a size cap, least recently used first, rebuilt from the folder."""

from __future__ import annotations

from pathlib import Path

from imgflow.runtimes.local.render_cache import RenderCache, entry_path, write_entry

MIB = 1024 * 1024


def key(n: int) -> str:
    return f"{n:064x}"


def test_lru_eviction_and_rescan(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path, max_bytes=3 * MIB)
    for n in range(3):
        written = write_entry(tmp_path, key(n), "webp", b"x" * MIB)
        assert cache.added(key(n), "webp") == written == entry_path(tmp_path, key(n), "webp")
    assert cache.get(key(0)) == entry_path(tmp_path, key(0), "webp")  # 0 is now the most recently used: 1 goes first
    write_entry(tmp_path, key(3), "webp", b"x" * MIB)
    cache.added(key(3), "webp")
    assert cache.get(key(1)) is None
    assert not (tmp_path / key(1)[:2] / f"{key(1)}.webp").exists()
    assert cache.size == 3 * MIB
    assert len(cache) == 3

    # a bigger-than-cap entry stays until the next one, so it can be served once
    write_entry(tmp_path, key(4), "webp", b"x" * 4 * MIB)
    assert cache.added(key(4), "webp") == entry_path(tmp_path, key(4), "webp")
    assert len(cache) == 1
    assert cache.size == 4 * MIB

    again = RenderCache(tmp_path, max_bytes=3 * MIB)  # a restart finds what is on disk, within the cap
    assert again.get(key(4)) == entry_path(tmp_path, key(4), "webp")
    assert (len(again), again.size, again.read(key(4))) == (1, 4 * MIB, b"x" * 4 * MIB)
    assert again.added(key(9), "webp") is None  # not written: nothing indexed


def test_reads_come_from_memory_once_read(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path, max_bytes=3 * MIB)
    write_entry(tmp_path, key(1), "webp", b"abc")
    cache.added(key(1), "webp")
    assert cache.read(key(1)) == b"abc"
    (tmp_path / key(1)[:2] / f"{key(1)}.webp").unlink()
    assert cache.read(key(1)) == b"abc"  # no system call for a warm entry
    cache.forget(key(1))
    assert cache.read(key(1)) is None
    write_entry(tmp_path, key(2), "webp", b"xyz")
    cache.added(key(2), "webp")
    (tmp_path / key(2)[:2] / f"{key(2)}.webp").unlink()
    assert cache.read(key(2)) is None  # never read, then gone: forgotten
    assert len(cache) == 0
