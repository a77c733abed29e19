"""Probe: what an image is, from its magic bytes and headers only, with the limits enforced.

Nothing here decodes pixels: libvips loaders are lazy (a header read) and
pillow-heif reads the HEIF container without decoding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pyvips

from imgflow.errors import CorruptImage, TooLarge, TooManyFrames, TooManyPixels, UnsupportedFormat
from imgflow.facts import ImageFacts
from imgflow.processing import budget, engine, heif
from imgflow.processing.exif import summarise
from imgflow.processing.gifscan import gif_extent
from imgflow.processing.plan import ANIMATED_INPUTS
from imgflow.processing.pngscan import check_text_chunks
from imgflow.recipes import Limits
from imgflow.sniff import SNIFF_BYTES, content_type, sniff


@dataclass(frozen=True)
class Probed:
    facts: ImageFacts
    #: page height of one frame as stored
    page_height: int
    #: the raw EXIF block, if any (only ever read for the credits ``keep: icc+copyright`` carries)
    exif_blob: bytes | None = None


def _field(image: pyvips.Image, name: str, fields: list[str]) -> Any:
    return image.get(name) if name in fields else None


def _check_size(width: int, height: int, frames: int, limits: Limits, fmt: str) -> None:
    if width < 1 or height < 1:
        raise CorruptImage(f"the {fmt} image declares an empty size ({width}x{height})")
    if max(width, height) > limits.max_dimension:
        raise TooManyPixels(
            f"The image is {width}x{height} pixels; neither side may be longer than {limits.max_dimension} pixels."
        )
    if frames > limits.max_frames:
        raise TooManyFrames(f"The image has {frames} frames; at most {limits.max_frames} are processed.")
    pixels = width * height * frames
    if pixels > limits.max_pixels:
        shown, cap = budget.pair(pixels / 1e6, limits.max_pixels / 1e6, "MP")
        frames_text = f" x {frames} frames" if frames > 1 else ""
        raise TooManyPixels(f"The image has {width}x{height}{frames_text} = {shown}; the limit is {cap}.")


def _vips_decode(image: pyvips.Image, fmt: str, fields: list[str], frames: int) -> budget.Decode:
    # the decoder holds the whole picture: interlaced PNG, progressive (multi-scan) JPEG
    whole = {"png": "interlaced", "jpeg": "jpeg-multiscan"}.get(fmt)
    interlaced = whole is not None and bool(_field(image, whole, fields))
    return budget.Decode(
        fmt=fmt, width=image.width, height=image.get_page_height(), bands=image.bands,
        sample=budget.SAMPLE_BYTES.get(str(image.format), 8),
        frames=frames if fmt in ANIMATED_INPUTS else 1, interlaced=interlaced,
    )  # fmt: skip


def sniff_accepted(data: bytes, limits: Limits) -> str:
    if len(data) > limits.max_bytes:
        raise TooLarge(f"The file has {len(data)} bytes; at most {limits.max_bytes} are processed.")
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None:
        raise UnsupportedFormat("This is not an image format imgflow recognises.")
    if fmt not in limits.accept:
        raise UnsupportedFormat(f"{fmt.upper()} images are not accepted here; accepted: {', '.join(limits.accept)}.")
    return fmt


def inspect(data: bytes, limits: Limits) -> Probed:
    fmt = sniff_accepted(data, limits)
    if fmt == "png":
        check_text_chunks(data)
    if fmt == "gif":
        extent = gif_extent(data)
        _check_size(extent.width, extent.height, max(extent.frames, 1), limits, fmt)
        canvas = budget.Decode(fmt, extent.width, extent.height, bands=4, frames=max(extent.frames, 1))
        budget.check(canvas, limits.max_decoded_bytes)
    base = {"sha256": hashlib.sha256(data).hexdigest(), "format": fmt, "content_type": content_type(fmt)}
    if fmt == "heif":
        info = heif.inspect(data)
        _check_size(info.width, info.height, info.frames, limits, fmt)
        bands = 4 if info.has_alpha else 3
        primary = budget.Decode(fmt, info.width, info.height, bands, sample=budget.sample_bytes(info.bit_depth))
        budget.check(primary, limits.max_decoded_bytes)
        facts = ImageFacts(
            **base, bytes=len(data), width=info.width, height=info.height,
            oriented_width=info.width, oriented_height=info.height, frames=info.frames,
            bands=bands, has_alpha=info.has_alpha, has_icc=info.has_icc,
            interpretation="srgb", exif=summarise(info.exif),
        )  # fmt: skip
        return Probed(facts, info.height, info.exif)
    engine.engine(limits.accept, limits.threads)
    image = engine.load(data, fmt)
    with engine.vips_errors(fmt):
        fields = image.get_fields()
        frames = int(_field(image, "n-pages", fields) or 1)
        width, page_height = image.width, image.get_page_height()
        orientation = int(_field(image, "orientation", fields) or 1)
        exif_field = _field(image, "exif-data", fields)
    exif_blob = exif_field if isinstance(exif_field, bytes) else None
    if fmt == "avif":
        orientation = 1  # libheif already applied the container's irot/imir
    if orientation not in range(1, 9):
        orientation = 1
    _check_size(width, page_height, frames, limits, fmt)
    budget.check(_vips_decode(image, fmt, fields, frames), limits.max_decoded_bytes)
    swap = orientation >= 5
    facts = ImageFacts(
        **base, bytes=len(data), width=width, height=page_height,
        oriented_width=page_height if swap else width, oriented_height=width if swap else page_height,
        orientation=orientation, frames=frames, bands=image.bands, has_alpha=image.hasalpha(),
        has_icc="icc-profile-data" in fields, interpretation=str(image.interpretation),
        exif=summarise(exif_blob),
    )  # fmt: skip
    return Probed(facts, page_height, exif_blob)


def probe(data: bytes, limits: Limits) -> ImageFacts:
    """The image's facts from its headers, or an :class:`imgflow.errors.InputError`. No pixel decode."""
    return inspect(data, limits).facts
