"""The decode budget: the memory decoding an image takes, estimated from its headers alone.

Pixels alone undercount: a 12-bit RGBA AVIF of 49 MP (under the 50 MP cap) pinned a worker at
about 1 GiB. The estimate is width x height x frames held x channels x the bytes the decoder
holds per channel, measured on libvips 8.18 / libheif (peak RSS less the idle process):

* JPEG, WebP, GIF, TIFF, PNG: the sample size (1 byte up to 8 bits, 2 up to 16). libvips
  streams most of these; counting the whole picture keeps the rule simple and on the safe side.
* interlaced PNG: twice the sample size. The seven passes cover the whole picture, so the
  loader holds all of it before the first row comes out (16 MP 16-bit RGBA: +105 MB over the
  same file not interlaced).
* progressive JPEG: 2 bytes. libjpeg keeps the DCT coefficients (16 bits each) of the whole
  picture until the last scan (49 MP 4:4:4: 319 MB, against 52 MB for the same baseline JPEG).
* HEIC: twice the sample size of the coded bit depth (libheif's planes and the RGB it hands over).
* AVIF: 5 bytes whatever the depth (libheif's planes, its RGB conversion, libvips' copy: 49 MP
  8-bit RGB peaked at 715 MB, 12-bit RGBA at 990 MB).

Pure arithmetic: no pyvips here.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgflow.errors import TooLargeDecoded

#: bytes per channel for libvips' band formats
SAMPLE_BYTES = {
    "uchar": 1, "char": 1, "ushort": 2, "short": 2, "uint": 4, "int": 4,
    "float": 4, "complex": 8, "double": 8, "dpcomplex": 16,
}  # fmt: skip
AVIF_BYTES_PER_CHANNEL = 5


def sample_bytes(bits: int) -> int:
    """Bytes a decoder stores one channel of ``bits`` in."""
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


@dataclass(frozen=True)
class Decode:
    """What a decoder will hold for one image."""

    fmt: str
    width: int
    height: int
    bands: int
    #: bytes per channel as decoded (see :data:`SAMPLE_BYTES`)
    sample: int = 1
    #: frames held at once (every frame of an animation; 1 for a still or a primary image)
    frames: int = 1
    #: interlaced PNG or progressive JPEG: the decoder holds the whole picture
    interlaced: bool = False

    @property
    def per_channel(self) -> int:
        if self.fmt == "avif":
            return AVIF_BYTES_PER_CHANNEL
        if self.fmt == "heif" or self.interlaced:
            return 2 * self.sample  # progressive JPEG: 8-bit samples, 16-bit coefficients
        return self.sample

    @property
    def bytes(self) -> int:
        return self.width * self.height * self.frames * self.bands * self.per_channel

    def describe(self) -> str:
        frames = f" x {self.frames} frames" if self.frames > 1 else ""
        kind = self.fmt.upper()
        if self.interlaced:
            kind = "progressive JPEG" if self.fmt == "jpeg" else f"interlaced {kind}"
        return (
            f"{self.width}x{self.height} pixels{frames}, {self.bands} channels, "
            f"and {kind} decoding holds about {self.per_channel} bytes per channel"
        )


def pair(value: float, limit: float, unit: str) -> tuple[str, str]:
    """``value`` and ``limit`` in ``unit`` with just enough decimals to tell them apart and to show
    the limit within 5% (a 0.03 MP limit is "0.03 MP", never "0.0 MP")."""
    for digits in range(1, 7):
        shown, cap = f"{value:.{digits}f}", f"{limit:.{digits}f}"
        if shown != cap and abs(float(cap) - limit) <= 0.05 * abs(limit):
            return f"{shown} {unit}", f"{cap} {unit}"
    return f"{value} {unit}", f"{limit} {unit}"


def check(decode: Decode, limit: int) -> None:
    """:class:`TooLargeDecoded` when decoding would take more than ``limit`` bytes."""
    need = decode.bytes
    if need <= limit:
        return
    shown, cap = pair(need / 1e6, limit / 1e6, "MB")
    raise TooLargeDecoded(
        f"Decoding this image would take about {shown} of memory ({decode.describe()}). "
        f"The limit is {cap} (limits.max_decoded_bytes)."
    )
