"""Object keys every store accepts: the rules that keep a key inside a folder.

All adapters validate with the same rules so that a key that works on S3 works
on disk and in memory too. ETags are always md5 hex WITHOUT quotes.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from imgflow.errors import InvalidKey

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
#: the filesystem store keeps its bookkeeping under names starting with this
RESERVED_PREFIX = ".imgflow"
#: presigned uploads expire within 15 minutes
MAX_UPLOAD_TTL = 900


def validate_key(key: str) -> str:
    """Return ``key`` if it is safe everywhere, else raise :class:`InvalidKey`.

    Refused: empty keys, absolute paths, backslashes, NUL and other control
    characters, empty / ``.`` / ``..`` segments, segments over 255 bytes, keys
    over 1024 bytes and the reserved ``.imgflow*`` first segment.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("an object key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey(f"object key longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidKey("object key contains a control character")
    if "\\" in key:
        raise InvalidKey("object key contains a backslash")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise InvalidKey("object key contains a lone surrogate")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key has an empty, '.' or '..' segment: {key!r}")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidKey(f"object key segment longer than {MAX_SEGMENT_BYTES} bytes")
    if segments[0].startswith(RESERVED_PREFIX):
        raise InvalidKey(f"object keys may not start with {RESERVED_PREFIX!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key's beginning (may end with ``/``)."""
    if prefix == "":
        return prefix
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    # a partial last segment is fine ("renditions/ab"), but it must be a valid key so far
    validate_key(trimmed)
    return prefix


def md5_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def normalize_etag(etag: str) -> str:
    """S3 quotes ETags (and weak ones start with W/); imgflow never does."""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def check_presign_args(key: str, max_size: int, expires_in: int) -> None:
    validate_key(key)
    if key.endswith("${filename}"):
        # S3 would turn this into a starts-with condition: the client could pick the key
        raise InvalidKey("a presigned upload key may not end with ${filename}")
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    if not 1 <= expires_in <= MAX_UPLOAD_TTL:
        raise ValueError(f"expires_in must be in [1, {MAX_UPLOAD_TTL}] seconds")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name (``filename*``)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
