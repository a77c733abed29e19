"""Walk a PNG's chunks (no decoding) for compressed text that inflates past a bound.

libvips' PNG loader does not inflate zTXt/iTXt chunks today, but other readers of the same
bytes do (Pillow raises 'Decompressed data too large'), and a future loader might: a text
chunk of a few KB that inflates to gigabytes is a decompression bomb, refused before any
decoder sees the file. Each chunk is inflated with a bounded output, never whole.
"""

from __future__ import annotations

import struct
import zlib

from imgflow.errors import TooLargeDecoded

#: how far one compressed text chunk may inflate (Pillow's own MAX_TEXT_CHUNK is 1 MiB)
MAX_TEXT_BYTES = 1 << 20
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _compressed_text(kind: bytes, body: bytes) -> bytes | None:
    """The zlib stream of a zTXt chunk, or of a compressed iTXt chunk; None otherwise."""
    keyword_end = body.find(b"\0")
    if keyword_end < 0:
        return None
    if kind == b"zTXt":
        return body[keyword_end + 2 :]  # keyword, NUL, method byte
    flag = body[keyword_end + 1 : keyword_end + 2]
    if flag != b"\x01":
        return None
    rest = body[keyword_end + 3 :]  # keyword, NUL, flag, method; then language NUL, translated keyword NUL
    language_end = rest.find(b"\0")
    translated_end = rest.find(b"\0", language_end + 1) if language_end >= 0 else -1
    return rest[translated_end + 1 :] if translated_end >= 0 else None


def check_text_chunks(data: bytes, limit: int = MAX_TEXT_BYTES) -> None:
    """Raise TooLargeDecoded when a compressed text chunk inflates past ``limit`` bytes.
    A damaged chunk is not this check's business: the decoder judges the image."""
    if not data.startswith(_SIGNATURE):
        return
    pos = len(_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            return
        if kind not in (b"zTXt", b"iTXt"):
            continue
        stream = _compressed_text(kind, body)
        if stream is None:
            continue
        inflater = zlib.decompressobj()
        try:
            inflater.decompress(stream, limit + 1)
        except zlib.error:
            continue
        if inflater.unconsumed_tail:
            raise TooLargeDecoded(
                f"A compressed text chunk ({kind.decode()}) of this PNG inflates past {limit:,} bytes: "
                "a decompression bomb is refused."
            )
