"""HEIC/HEIF through pillow-heif: the libvips wheel carries no HEVC decoder.

libheif applies the container's rotation and mirroring, so the pixels it hands
over are upright; EXIF orientation must not be applied again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pyvips

from imgflow.errors import CorruptImage

#: what ``finish`` makes of the picture (an image in memory)
Out = TypeVar("Out")


@dataclass(frozen=True)
class HeifInfo:
    width: int
    height: int
    frames: int
    has_alpha: bool
    has_icc: bool
    exif: bytes | None
    #: bits per channel as coded (libheif decodes deeper pictures at 16 bits before converting)
    bit_depth: int = 8


def _open(data: bytes) -> Any:
    import pillow_heif

    try:
        return pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    except Exception as exc:  # pillow-heif raises ValueError/RuntimeError/SyntaxError on bad files
        raise CorruptImage(f"the heif image is corrupt or unreadable ({str(exc)[:200]})") from None


def inspect(data: bytes) -> HeifInfo:
    """Container facts; nothing is decoded."""
    heif = _open(data)
    try:  # pillow-heif reads some boxes lazily: a container without a primary image fails here
        width, height = heif.size
        info = heif.info
        exif = info.get("exif")
        return HeifInfo(
            width=int(width),
            height=int(height),
            frames=len(heif),
            has_alpha=bool(heif.has_alpha),
            has_icc=bool(info.get("icc_profile")),
            exif=exif if isinstance(exif, bytes) else None,
            bit_depth=int(info.get("bit_depth") or 8),
        )
    except Exception as exc:  # IndexError, KeyError, ValueError... from a damaged container
        raise CorruptImage(f"the heif image is corrupt or unreadable ({type(exc).__name__})") from None


def decode(data: bytes, finish: Callable[[pyvips.Image], Out]) -> Out:
    """The primary image as an 8-bit sRGB(A) libvips image (its ICC profile attached), handed to
    ``finish`` (which must return an image in memory) while libheif's pixel buffer is alive.

    libvips reads libheif's buffer in place (rows padded to ``stride`` are cropped and folded
    back into channels): no copy of the full-size picture is made here."""
    heif = _open(data)
    try:
        mode = heif.mode
        pixels = heif.data  # decodes here
        stride = heif.stride
        width, height = heif.size
    except Exception as exc:
        raise CorruptImage(f"the heif image could not be decoded ({str(exc)[:200]})") from None
    if mode not in ("RGB", "RGBA"):
        raise CorruptImage(f"the heif image has pixels of a kind imgflow does not read ({mode})")
    bands = 4 if mode == "RGBA" else 3
    rows = pyvips.Image.new_from_memory(pixels, stride, height, 1, "uchar")
    image = rows.crop(0, 0, width * bands, height).bandfold(factor=bands).copy(interpretation="srgb")
    icc = heif.info.get("icc_profile")
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    out = finish(image)
    del image, rows  # only now may libheif's buffer go
    return out
