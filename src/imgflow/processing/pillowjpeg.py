"""Small baseline JPEGs through Pillow's libjpeg-turbo 3, for still pictures that carry no metadata.

pyvips-binary's libvips writes JPEG with the mozjpeg 5 built into it, in mozjpeg's
libjpeg-compatible profile (no trellis, standard tables). At the same quality, chroma
subsampling and Huffman optimisation, libjpeg-turbo 3 writes the same frame, tables and
entropy-coded bytes; Pillow adds a JFIF APP0 segment (libvips writes none without metadata),
which is dropped, so the file is byte for byte libvips'. It takes less time where libvips'
per-call cost and mozjpeg's Huffman optimisation pass weigh: 1024x768 in 5.3 against 6.7 ms,
256x192 in 0.8 against 1.1 ms (in a job). Above :data:`MAX_PIXELS` handing the pixels over costs what it
saves (Pillow unpacks RGB into 4 bytes a pixel), so libvips keeps the large renditions, and
everything else: metadata (ICC, credits), alpha, 16-bit, frames.

Pillow's encoder releases the GIL, so encodes run side by side on :mod:`.spread`'s threads.
Pillow is in the ``processing`` extra (every runtime, Lambda's too); where it is missing, or
:data:`enabled` is off, :func:`encode` answers None and the caller asks libvips.
"""

from __future__ import annotations

import io
from typing import cast

import pyvips

#: renditions up to this many pixels come here (the size up to which encode.py asks for
#: Huffman optimisation: beyond it the handover costs what libjpeg-turbo saves)
MAX_PIXELS = 1024 * 1024
#: libvips' ``subsample_mode="auto"``: chroma at full resolution from this quality up
FULL_CHROMA_QUALITY = 90
#: the JFIF APP0 segment Pillow writes first: marker, length 16, "JFIF\0"
_JFIF = b"\xff\xe0\x00\x10JFIF\x00"

#: off: every JPEG goes through libvips (the tests compare the two paths)
enabled = True

_MODES = {(3, "srgb"): "RGB", (1, "b-w"): "L"}


def takes(image: pyvips.Image) -> bool:
    """A still 8-bit sRGB or grey picture without alpha, of at most :data:`MAX_PIXELS`."""
    return (
        image.format == "uchar"
        and (image.bands, str(image.interpretation)) in _MODES
        and image.get_page_height() == image.height
        and image.width * image.height <= MAX_PIXELS
    )


def encode(image: pyvips.Image, quality: int, optimize: bool, pixels: memoryview | None = None) -> bytes | None:
    """The JPEG libvips' ``jpegsave_buffer(Q=quality, keep=NONE, optimize_coding=optimize,
    subsample_mode="auto")`` writes, or None when this path does not take the picture.
    ``pixels``: the image's own, when the caller holds them (:class:`.colour.Held`)."""
    if not (enabled and takes(image)):
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    mode = _MODES[(image.bands, str(image.interpretation))]
    if pixels is None:
        pixels = memoryview(image.write_to_memory())
    size = (image.width, image.height)
    picture = Image.frombuffer(mode, size, cast(bytes, pixels), "raw", mode, 0, 1)  # any buffer is read
    # 4:2:0 or 4:4:4, as libvips' "auto"; grey gets 1x1 (Pillow would write 2x2 sampling for it)
    subsampling = 2 if mode == "RGB" and quality < FULL_CHROMA_QUALITY else 0
    out = io.BytesIO()
    try:
        picture.save(out, "JPEG", quality=quality, optimize=optimize, subsampling=subsampling)
    except (OSError, ValueError):
        return None
    data = out.getvalue()
    if not data.startswith(_JFIF, 2):
        return None
    return data[:2] + data[2 + 2 + 16 :]
