"""The config as an object in a store: the same YAML a user runs locally, plus the watermark files
it names, side by side under the YAML's key (``imgflow config push`` writes them; the AWS
functions read them at cold start and recheck the YAML's ETag, its version, every minute).
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imgflow.adapters.keys import validate_key
from imgflow.errors import ConfigError, ImgflowError, InvalidKey
from imgflow.ports import ObjectStore
from imgflow.settings import Settings, settings_from_document

#: a YAML of recipes is a few KB; a watermark image a few hundred
MAX_YAML_BYTES = 1024 * 1024
MAX_FILE_BYTES = 10 * 1024 * 1024


def file_key(config_key: str, path: str) -> str:
    """Where a watermark file named ``path`` (relative to the YAML) lives: beside the YAML's key."""
    if path.startswith("/") or "\\" in path:
        raise ConfigError(f"watermark image_path {path!r} must be relative to the config file")
    folder = posixpath.dirname(config_key)
    joined = posixpath.normpath(posixpath.join(folder, path))
    if joined.startswith("../") or joined == ".." or (folder and not joined.startswith(folder + "/")):
        raise ConfigError(f"watermark image_path {path!r} leaves the config file's folder")
    try:
        return validate_key(joined)
    except InvalidKey as exc:
        raise ConfigError(f"watermark image_path {path!r}: {exc.message}") from exc


def stamp(document: bytes, files: Mapping[str, bytes], *, now: float | None = None) -> bytes:
    """The YAML as pushed: a comment line naming the push and the files' digests, then the user's
    text unchanged. Every push is a new object version (ETag), even when only a watermark changed."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    digests = ", ".join(f"{p}={hashlib.sha256(d).hexdigest()[:16]}" for p, d in sorted(files.items()))
    return f"# imgflow config push {when}; files: {digests or 'none'}\n".encode() + document


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    #: the YAML object's ETag: the config version a backfill message names
    version: str


def load(store: ObjectStore, key: str, *, source: str, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read and validate the config object and its watermark files. Raises NotFound (no object),
    ConfigError (bad YAML, settings or files), StorageError; never answers half a config."""
    info = store.head(key)
    document = store.get(key, max_bytes=MAX_YAML_BYTES, etag=info.etag)

    def read_file(path: str) -> bytes:
        where = file_key(key, path)
        try:
            return store.get(where, max_bytes=MAX_FILE_BYTES)
        except ImgflowError as exc:
            raise ConfigError(f"{source}: watermark {path!r} ({where}): {exc.code}") from exc

    return Loaded(settings_from_document(document, source=source, read_file=read_file, environ=environ), info.etag)


def files_of(paths: Sequence[str], config_key: str) -> dict[str, str]:
    """Relative path -> object key, for every watermark file a document names."""
    return {path: file_key(config_key, path) for path in paths}
