"""HEIC/HEIF through pillow-heif: the libvips wheel carries no HEVC decoder.

libheif applies the container's rotation and mirroring, so the pixels it hands
over are upright; EXIF orientation must not be applied again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyvips

from imgflow.errors import CorruptImage


@dataclass(frozen=True)
class HeifInfo:
    width: int
    height: int
    frames: int
    has_alpha: bool
    has_icc: bool
    exif: bytes | None


def _open(data: bytes) -> Any:
    import pillow_heif

    try:
        return pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
    except Exception as exc:  # pillow-heif raises ValueError/RuntimeError/SyntaxError on bad files
        raise CorruptImage(f"the heif image is corrupt or unreadable ({str(exc)[:200]})") from None


def inspect(data: bytes) -> HeifInfo:
    """Container facts; nothing is decoded."""
    heif = _open(data)
    width, height = heif.size
    exif = heif.info.get("exif")
    return HeifInfo(
        width=int(width),
        height=int(height),
        frames=len(heif),
        has_alpha=heif.has_alpha,
        has_icc=bool(heif.info.get("icc_profile")),
        exif=exif if isinstance(exif, bytes) else None,
    )


def decode(data: bytes) -> pyvips.Image:
    """The primary image as an 8-bit sRGB(A) libvips image in memory (its ICC profile attached)."""
    heif = _open(data)
    try:
        mode = heif.mode
        pixels = heif.data  # decodes here
        stride = heif.stride
        width, height = heif.size
    except Exception as exc:
        raise CorruptImage(f"the heif image could not be decoded ({str(exc)[:200]})") from None
    bands = 4 if mode == "RGBA" else 3
    if mode not in ("RGB", "RGBA"):
        raise CorruptImage(f"the heif image has an unexpected pixel mode {mode!r}")
    row = width * bands
    packed = bytes(pixels) if stride == row else b"".join(
        bytes(pixels[y * stride : y * stride + row]) for y in range(height)
    )  # fmt: skip
    wrapped = pyvips.Image.new_from_memory(packed, width, height, bands, "uchar")
    # copy_memory() while ``packed`` is alive: a derived image does not keep the Python buffer
    image = wrapped.copy(interpretation="srgb").copy_memory()
    icc = heif.info.get("icc_profile")
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
    return image
