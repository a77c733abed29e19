"""Walk a JPEG's header segments (no decoding) and drop junk bytes between them.

JPEGs are decoded strictly (any libjpeg warning fails the image: see :mod:`.engine`), because
libjpeg reports a cut scan as a warning and fills the rest of the picture with grey. One warning
is harmless, though, and real files carry it: junk bytes between two header segments (Pillow
issue #630), which libjpeg skips. Only that case is repaired here, and only before the first
scan: the segments are chained again without the junk. The scan data is never touched.
"""

from __future__ import annotations

_SOI = b"\xff\xd8"
_SOS = 0xDA
#: markers without a length field (SOI, EOI, RSTn, TEM)
_STANDALONE = frozenset({0x01, 0xD8, 0xD9, *range(0xD0, 0xD8)})


def without_header_junk(data: bytes) -> bytes:
    """``data`` with any junk between header segments removed; ``data`` itself when there is
    none, or when the header is damaged in a way this walk does not repair (libjpeg decides)."""
    if not data.startswith(_SOI):
        return data
    pieces: list[bytes] = [_SOI]
    pos, junk = 2, False
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                return data
            junk, pos = True, nxt
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x00:  # a stuffed 0xFF: still junk
            junk, pos = True, pos + 2
            continue
        if marker in _STANDALONE:
            return data  # not a header any more: leave it to the decoder
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            return data
        if marker == _SOS:
            if not junk:
                return data
            pieces.append(data[pos:])
            return b"".join(pieces)
        pieces.append(data[pos : pos + 2 + length])
        pos += 2 + length
    return data
