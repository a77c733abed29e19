"""Walk a JPEG's header segments (no decoding): drop junk bytes between them, count restart markers.

JPEGs are decoded strictly (any libjpeg warning fails the image: see :mod:`.engine`), because
libjpeg reports a cut scan as a warning and fills the rest of the picture with grey. One warning
is harmless, though, and real files carry it: junk bytes between two header segments (Pillow
issue #630), which libjpeg skips. Only that case is repaired here, and only before the first
scan: the segments are chained again without the junk. The scan data is never touched.

Junk before a restart marker inside the scan is skipped by libjpeg too (``hopper_bad_exif.jpg``);
libvips stops at that first warning, so it could hide a later cut. :func:`restarts_complete` tells
whether the scan has every restart marker its frame needs, the condition for decoding it again.
"""

from __future__ import annotations

_SOI = b"\xff\xd8"
_SOS = 0xDA
#: markers without a length field (SOI, EOI, RSTn, TEM)
_STANDALONE = frozenset({0x01, 0xD8, 0xD9, *range(0xD0, 0xD8)})
#: sequential Huffman frames (baseline, extended): one scan when it holds every component
_SEQUENTIAL = frozenset({0xC0, 0xC1})
#: the other frame types (progressive, lossless, arithmetic): several scans, not counted here
_OTHER_FRAMES = frozenset(range(0xC2, 0xD0)) - {0xC4, 0xC8, 0xCC}
_DRI = 0xDD
_RST = range(0xD0, 0xD8)


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


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def restarts_complete(data: bytes) -> bool:
    """Whether a sequential JPEG whose one scan holds every component, with a restart interval, has
    every restart marker its frame needs (a cut scan with an end marker appended has fewer). False
    when this walk cannot tell: no restart interval, progressive, several scans, a damaged header."""
    pos, frame, interval = 2, b"", 0
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in _STANDALONE:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if marker in _OTHER_FRAMES:
            return False
        if marker in _SEQUENTIAL:
            frame = body
        elif marker == _DRI and len(body) >= 2:
            interval = int.from_bytes(body[:2], "big")
        elif marker == _SOS:
            return _count_restarts(data, pos + 2 + length, frame, interval, body[:1])
        pos += 2 + length
    return False


def _count_restarts(data: bytes, start: int, frame: bytes, interval: int, scan_components: bytes) -> bool:
    if len(frame) < 6 or interval == 0:
        return False
    height, width, count = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big"), frame[5]
    sampling = frame[7 : 6 + 3 * count : 3]
    if not width or not height or len(sampling) != count or scan_components != bytes([count]):
        return False  # a scan of some components only: more scans follow
    h = max(s >> 4 for s in sampling) if count > 1 else 1
    v = max(s & 15 for s in sampling) if count > 1 else 1
    mcus = _ceil(width, 8 * h) * _ceil(height, 8 * v)
    restarts, at = 0, start
    while (at := data.find(b"\xff", at)) >= 0 and at + 1 < len(data):
        following = data[at + 1]
        if following in _RST:
            restarts += 1
        elif following not in (0x00, 0xFF):  # the end marker, or another segment
            break
        at += 1 if following == 0xFF else 2
    return restarts == _ceil(mcus, interval) - 1
