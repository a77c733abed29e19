"""Key layout and small record helpers shared by the use cases."""

from __future__ import annotations

from imgflow.errors import UnsupportedFormat
from imgflow.recipes import Limits
from imgflow.records import original_key, rendition_prefix
from imgflow.sniff import CONTENT_TYPES

ORIGINALS_PREFIX = "originals/"

#: content types clients commonly send for the same formats
_ALIASES = {
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/heic": "heif",
    "image/heic-sequence": "heif",
    "image/heif-sequence": "heif",
    "image/avif-sequence": "avif",
    "image/x-png": "png",
}
_BY_TYPE = {ctype: fmt for fmt, ctype in CONTENT_TYPES.items()}

_MAX_FILENAME = 255


#: an id must leave room for ``renditions/{id}/{generation}/{name}.{ext}`` under S3's 1024-byte key cap
_MAX_ID_BYTES = 512


def image_id_from_key(key: str) -> str | None:
    """The image id of an original's key, or None for any other key.

    Ids we mint are ULIDs, but an operator may copy a file straight into
    ``originals/`` under any single-segment name (spaces, ``+``, unicode): that
    name becomes the id. Nested keys, dot-segments, control characters and
    backslashes are never ids.
    """
    if not key.startswith(ORIGINALS_PREFIX):
        return None
    image_id = key[len(ORIGINALS_PREFIX) :]
    if not image_id or "/" in image_id or "\\" in image_id or image_id.startswith("."):
        return None
    if len(image_id.encode("utf-8", "surrogatepass")) > _MAX_ID_BYTES:
        return None
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in image_id):
        return None
    return image_id


def rendition_key(image_id: str, generation: int, name: str, extension: str) -> str:
    return f"{rendition_prefix(image_id, generation)}{name}.{extension}"


def accepted_format(declared: str, limits: Limits) -> str:
    """The format a declared content type names, if it is on the accept-list; else UnsupportedFormat."""
    ctype = declared.split(";", 1)[0].strip().lower()
    fmt = _ALIASES.get(ctype) or _BY_TYPE.get(ctype)
    if fmt is None or fmt not in limits.accept:
        accepted = ", ".join(CONTENT_TYPES[f] for f in limits.accept)
        raise UnsupportedFormat(f"content type {declared!r} is not accepted; accepted: {accepted}")
    return fmt


def clean_filename(filename: str | None) -> str | None:
    """Metadata only: control characters dropped, capped, never used in a key."""
    if filename is None:
        return None
    text = "".join(ch for ch in filename if ch.isprintable()).strip()
    return text[:_MAX_FILENAME] or None


__all__ = [
    "ORIGINALS_PREFIX",
    "accepted_format",
    "clean_filename",
    "image_id_from_key",
    "original_key",
    "rendition_key",
]
