"""Walk a GIF's blocks (no decoding) to find how far its frames reach.

A GIF frame may sit anywhere: a 44-byte file can declare a frame at offset
65535 that grows the canvas to gigapixels. Decoders differ on whether they clip
such frames or allocate the canvas, so the pipeline measures the extent itself,
before any decoder sees the file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GifExtent:
    screen_width: int
    screen_height: int
    #: the canvas every frame fits in (at least the logical screen)
    width: int
    height: int
    frames: int


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1
        if size == 0:
            break
        pos += size
    return pos


def gif_extent(data: bytes) -> GifExtent:
    """Measure the canvas from the logical screen and every image descriptor.

    Stops quietly at truncation or an unknown block: what it measured so far
    still bounds the canvas, and the decoder reports the damage.
    """
    if len(data) < 13:
        return GifExtent(0, 0, 0, 0, 0)
    screen_w = int.from_bytes(data[6:8], "little")
    screen_h = int.from_bytes(data[8:10], "little")
    packed = data[10]
    pos = 13
    if packed & 0x80:
        pos += 3 * (2 ** ((packed & 0x07) + 1))
    width, height, frames = screen_w, screen_h, 0
    while pos < len(data):
        block = data[pos]
        if block == 0x2C:  # image descriptor
            if pos + 10 > len(data):
                break
            left = int.from_bytes(data[pos + 1 : pos + 3], "little")
            top = int.from_bytes(data[pos + 3 : pos + 5], "little")
            w = int.from_bytes(data[pos + 5 : pos + 7], "little")
            h = int.from_bytes(data[pos + 7 : pos + 9], "little")
            local = data[pos + 9]
            frames += 1
            width, height = max(width, left + w), max(height, top + h)
            pos += 10
            if local & 0x80:
                pos += 3 * (2 ** ((local & 0x07) + 1))
            pos = _skip_sub_blocks(data, pos + 1)  # +1: LZW minimum code size
        elif block == 0x21:  # extension
            pos = _skip_sub_blocks(data, pos + 2)
        else:  # 0x3B trailer, or damage
            break
    return GifExtent(screen_w, screen_h, width, height, frames)
