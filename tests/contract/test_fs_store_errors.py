"""The folder store turns OS failures (disk full, file too large, I/O) into StorageError.

A full disk is simulated with ``RLIMIT_FSIZE`` in a child process: a write past the limit fails
with EFBIG there, as it fails with ENOSPC or EDQUOT on a full disk (the same code path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.errors import NotFound, StorageError

_FULL_DISK_CHILD = """
import json, resource, sys
from pathlib import Path
from imgflow.adapters.fs_store import FsObjectStore
from imgflow.errors import StorageError

store = FsObjectStore(Path(sys.argv[1]))
store.put("originals/keep", b"old bytes", content_type="image/png")
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
out = {}
for name, write in [
    ("put", lambda: store.put("originals/keep", b"x" * 300_000, content_type="image/png")),
    ("put_stream", lambda: store.put_stream("originals/new", iter([b"y" * 60_000] * 5), content_type="image/png")),
]:
    try:
        write()
        out[name] = "written"
    except StorageError as exc:
        out[name] = [exc.code, exc.message]
    except BaseException as exc:
        out[name] = ["unexpected", type(exc).__name__]
print(json.dumps(out))
"""


def test_a_full_disk_is_a_storage_error_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, str(root)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name in ("put", "put_stream"):
        code, message = out[name]
        assert code == "storage_error", out
        assert str(root) not in message
        assert "EFBIG" in message
    store = FsObjectStore(root)
    assert list((root / ".imgflow-tmp").iterdir()) == []
    assert store.get("originals/keep", max_bytes=100) == b"old bytes"
    with pytest.raises(NotFound):
        store.head("originals/new")


def test_unreadable_objects_are_storage_errors(tmp_path: Path) -> None:
    store = FsObjectStore(tmp_path / "store")
    store.put("renditions/a/1/ok.webp", b"ok", content_type="image/webp")
    loop = store.root / "renditions" / "a" / "1" / "loop.webp"
    os.symlink(loop, loop)  # opening it fails with ELOOP, not "no such file"
    for read in (
        lambda: store.head("renditions/a/1/loop.webp"),
        lambda: store.get("renditions/a/1/loop.webp", max_bytes=10),
        lambda: store.cache_control("renditions/a/1/loop.webp"),
        lambda: list(store.list("renditions/")),
    ):
        with pytest.raises(StorageError) as caught:
            read()
        assert "ELOOP" in caught.value.message
        assert str(tmp_path) not in caught.value.message
    store.delete("renditions/a/1/loop.webp")
    assert [o.key for o in store.list("renditions/")] == ["renditions/a/1/ok.webp"]


def test_a_full_disk_has_its_own_code_so_retries_wait_longer() -> None:
    import errno

    from imgflow.adapters.fs_store import _os_failure

    full = _os_failure(OSError(errno.ENOSPC, "No space left on device"), "write", "renditions/x/1/a.jpg")
    assert (full.code, full.retryable) == ("disk_full", True)
    assert "ENOSPC" in full.message
    other = _os_failure(OSError(errno.EIO, "Input/output error"), "write", "renditions/x/1/a.jpg")
    assert other.code == "storage_error"
