"""The object store as a folder: keys map 1:1 to files under ``root`` (S3's layout).

Writes go to a temp file, are fsynced, renamed into place, and the folder is fsynced.
Content type and cache-control live in a sidecar ``root/.imgflow-meta/<key>.json``
that also records the data file's inode, so a sidecar left over from a concurrent
write is noticed (the ETag is then recomputed from the bytes). ETag = md5 hex, unquoted.
A key that is both a file and a folder on disk (``a`` and ``a/b``) is refused with InvalidKey.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from imgflow.adapters.keys import RESERVED_PREFIX, check_presign_args, normalize_etag, validate_key, validate_prefix
from imgflow.adapters.local_signing import UploadSigner
from imgflow.errors import BadRequest, ConfigError, Conflict, DiskFull, InvalidKey, NotFound, StorageError, TooLarge
from imgflow.ports import ObjectInfo, PresignedUpload

_META = f"{RESERVED_PREFIX}-meta"
_TMP = f"{RESERVED_PREFIX}-tmp"
_CHUNK = 1024 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_failure(exc: OSError, what: str, key: str) -> StorageError:
    """An OSError (disk full, read-only, permissions, I/O) as a StorageError that names no path;
    a full disk (ENOSPC, EDQUOT) has its own code, ``disk_full``, so the retry policy can wait longer."""
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = f"{name} ({os.strerror(exc.errno)})" if name and exc.errno else type(exc).__name__
    message = f"the folder store could not {what} {key!r}: {reason}"
    return DiskFull(message) if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StorageError(message)


def clear_temp(root: Path) -> int:
    """Remove the temporary files a killed writer left under ``root`` (call it before any writer
    starts: a live write's temp file would go too). Returns how many went."""
    count = 0
    folder = Path(root) / _TMP
    for path in folder.iterdir() if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            path.unlink()
            count += 1
    return count


@contextlib.contextmanager
def _translated(what: str, key: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise _os_failure(exc, what, key) from exc


def _walk_error(exc: OSError) -> None:
    if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        raise exc


class FsObjectStore:
    """Download links and presigned uploads are HMAC-signed URLs served by imgflow itself:
    ``{public_base_url}/v1/files/{key}?exp&sig[&filename]`` and ``{public_base_url}/v1/local-uploads/{token}``.
    Without a ``signer`` the store works but cannot make URLs (ConfigError)."""

    def __init__(
        self,
        root: Path,
        *,
        signer: UploadSigner | None = None,
        public_base_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root).absolute()
        self.signer = signer
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock
        for folder in (self.root, self.root / _META, self.root / _TMP):
            folder.mkdir(parents=True, exist_ok=True)

    # --- paths ------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        parts = key.split("/")
        return self.root.joinpath(_META, *parts[:-1], parts[-1] + ".json")

    def local_path(self, key: str) -> Path:
        """The file holding ``key`` (for a route that streams it). Raises NotFound."""
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no object at {key!r}")
        return path

    # --- writing ----------------------------------------------------------------
    def put(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> ObjectInfo:
        return self.put_stream(key, [data], content_type=content_type, cache_control=cache_control)

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        *,
        content_type: str,
        max_bytes: int | None = None,
        min_bytes: int = 0,
        cache_control: str | None = None,
    ) -> ObjectInfo:
        """Write ``chunks`` to ``key``. Past ``max_bytes`` raises TooLarge (below ``min_bytes``:
        BadRequest) and leaves nothing behind; the old object, if any, is untouched."""
        path = self._path(key)
        temps: list[str] = []
        try:
            return self._write(path, key, chunks, temps, content_type, max_bytes, min_bytes, cache_control)
        except OSError as exc:
            raise _os_failure(exc, "write", key) from exc
        finally:  # a failed write leaves no temp file behind
            for tmp in temps:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _write(
        self,
        path: Path,
        key: str,
        chunks: Iterable[bytes],
        temps: list[str],
        content_type: str,
        max_bytes: int | None,
        min_bytes: int,
        cache_control: str | None,
    ) -> ObjectInfo:
        fd, data_tmp = tempfile.mkstemp(dir=self.root / _TMP, prefix="data-")
        temps.append(data_tmp)
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"upload to {key!r} is larger than {max_bytes} bytes")
                md5.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            st = os.fstat(f.fileno())
        if size < min_bytes:
            raise BadRequest(f"upload to {key!r} is smaller than {min_bytes} bytes")
        meta = {
            "etag": md5.hexdigest(),
            "content_type": content_type,
            "cache_control": cache_control,
            "size": size,
            "ino": st.st_ino,
        }
        fd, meta_tmp = tempfile.mkstemp(dir=self.root / _TMP, prefix="meta-")
        temps.append(meta_tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        self._place(data_tmp, path, key)
        self._place(meta_tmp, self._meta_path(key), key)
        return ObjectInfo(
            key=key, size=size, etag=str(meta["etag"]), content_type=content_type, last_modified=st.st_mtime
        )

    def _place(self, src: str, dst: Path, key: str) -> None:
        # a concurrent delete may prune the parent folder between mkdir and rename: retry
        for attempt in range(5):
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                break
            except FileNotFoundError:
                if attempt == 4:
                    raise
            except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
                raise InvalidKey(f"key {key!r} collides with another object on disk") from exc
        _fsync_dir(dst.parent)

    # --- reading ----------------------------------------------------------------
    def _read_meta(self, key: str, st: os.stat_result) -> dict[str, Any] | None:
        """The sidecar if it describes this very file (same inode and size), else None."""
        try:
            meta = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("ino") != st.st_ino or meta.get("size") != st.st_size:
            return None
        return meta

    def _open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            f = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"no object at {key!r}") from exc
        return f

    def _info(self, key: str, f: BinaryIO) -> ObjectInfo:
        st = os.fstat(f.fileno())
        meta = self._read_meta(key, st)
        if meta is not None:
            etag, content_type = str(meta["etag"]), meta.get("content_type")
        else:
            md5 = hashlib.md5(usedforsecurity=False)
            while block := f.read(_CHUNK):
                md5.update(block)
            f.seek(0)
            etag, content_type = md5.hexdigest(), None
        return ObjectInfo(key=key, size=st.st_size, etag=etag, content_type=content_type, last_modified=st.st_mtime)

    def get(self, key: str, *, max_bytes: int, etag: str | None = None) -> bytes:
        with _translated("read", key), self._open(key) as f:
            info = self._info(key, f)
            if etag is not None and normalize_etag(etag) != info.etag:
                raise Conflict(f"object {key!r} changed (etag {info.etag} != {normalize_etag(etag)})")
            if info.size > max_bytes:
                raise TooLarge(f"object {key!r} is {info.size} bytes, more than {max_bytes}")
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(f"object {key!r} is more than {max_bytes} bytes")
        return data

    def head(self, key: str) -> ObjectInfo:
        with _translated("read", key), self._open(key) as f:
            return self._info(key, f)

    def cache_control(self, key: str) -> str | None:
        with _translated("read", key), self._open(key) as f:
            meta = self._read_meta(key, os.fstat(f.fileno()))
        return None if meta is None else meta.get("cache_control")

    def delete(self, key: str) -> None:
        path = self._path(key)
        for file in (path, self._meta_path(key)):
            with (
                _translated("delete", key),
                contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError),
            ):
                file.unlink()
                self._prune(file.parent)

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, up to (not including) the root and the meta root."""
        stop = {self.root, self.root / _META}
        while folder not in stop and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        base = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        keys: list[str] = []
        with _translated("list", prefix):
            for dirpath, dirnames, filenames in os.walk(base, onerror=_walk_error):
                if Path(dirpath) == self.root:
                    dirnames[:] = [d for d in dirnames if not d.startswith(RESERVED_PREFIX)]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                keys.extend(k for k in (n if rel == "." else f"{rel}/{n}" for n in filenames) if k.startswith(prefix))
        keys.sort(key=lambda k: k.encode())
        for key in keys:
            try:
                yield self.head(key)
            except NotFound:  # deleted while listing
                continue

    # --- URLs -------------------------------------------------------------------
    def _signer(self) -> UploadSigner:
        if self.signer is None or not self.public_base_url:
            raise ConfigError("this folder store has no signer or public_base_url: it cannot make URLs")
        return self.signer

    def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        validate_key(key)
        params = self._signer().sign_download(key, expires_at=self.clock() + expires_in, filename=filename)
        return f"{self.public_base_url}/v1/files/{quote(key, safe='/')}?{urlencode(params, quote_via=quote)}"

    def presign_upload(self, key: str, *, content_type: str, max_size: int, expires_in: int) -> PresignedUpload:
        validate_key(key)
        check_presign_args(key, max_size, expires_in)
        expires_at = int(self.clock() + expires_in)
        token = self._signer().sign_upload(key, content_type=content_type, max_size=max_size, expires_at=expires_at)
        return PresignedUpload(
            url=f"{self.public_base_url}/v1/local-uploads/{token}",
            fields={"key": key, "Content-Type": content_type},
            expires_at=expires_at,
        )
