"""Encode one rendition in memory. Outputs carry no metadata unless the rendition keeps some:
``icc`` the ICC profile, ``icc+copyright`` also an EXIF block holding only the source's
Copyright and Artist (libvips builds it from the ``exif-ifd0-*`` fields we set; never GPS)."""

from __future__ import annotations

import pyvips

from imgflow.processing import libwebp, pillowjpeg
from imgflow.processing.colour import Held
from imgflow.processing.exif import Credits
from imgflow.processing.plan import Step
from imgflow.recipes import Rgb
from imgflow.sniff import EXTENSIONS

EXTENSION = {**EXTENSIONS, "jpeg": "jpg", "avif": "avif"}
#: Huffman-optimised JPEGs (a second pass over the coefficients) up to this size only: ~2% smaller
#: files for ~+3 ms at 1024x1024, but ~+15 ms (doubling the encode) for a 2048 px rendition
OPTIMIZE_CODING_MAX_PIXELS = 1024 * 1024
CONTENT_TYPE = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}


def flatten(image: pyvips.Image, background: Rgb) -> pyvips.Image:
    """Alpha composited onto ``background`` (JPEG has no alpha)."""
    if not image.hasalpha():
        return image
    if image.bands == 2 and len(set(background)) != 1:
        image = image.colourspace("srgb")
    colour = [background[0]] if image.bands == 2 else list(background)
    out = image.flatten(background=colour)
    return out.cast("uchar") if out.format != "uchar" else out


def with_metadata(image: pyvips.Image, keep: str, credits: Credits) -> tuple[pyvips.Image, int]:
    """The image to save and its ``keep`` flags. For credits, a copy whose only EXIF fields are
    ``exif-ifd0-Copyright``/``-Artist``: libvips writes an EXIF block from exactly the fields
    present (plus the structure every EXIF block has: resolution, orientation 1, Exif version)."""
    flags = pyvips.enums.ForeignKeep
    if keep == "none":
        return image, flags.NONE
    if keep != "icc+copyright" or not credits:
        return image, flags.ICC
    image = image.copy()
    for name in image.get_fields():
        if name.startswith("exif-") or "gps" in name.lower():  # never a field we did not put there
            image.remove(name)
    for name, text in credits:
        # libvips reads these fields in its own "value (description)" form and drops a trailing
        # " (...)": give it one, or "© Jane (CC-BY)" would lose "(CC-BY)"
        image.set_type(pyvips.GValue.gstr_type, f"exif-ifd0-{name}", f"{text} (ASCII)")
    return image, flags.ICC | flags.EXIF


def encode(image: pyvips.Image, step: Step, background: Rgb, credits: Credits = (), held: Held | None = None) -> bytes:
    """``held``: the in-memory image ``image`` was cut from; when nothing was cut, stamped,
    flattened or added, the fast encoders read its block instead of copying the pixels out."""
    rendition = step.rendition
    if step.format == "jpeg":
        image = flatten(image, background)
    image, keep = with_metadata(image, rendition.keep, credits)
    pixels = held.block if held is not None and image is held.image else None
    bare = keep == pyvips.enums.ForeignKeep.NONE
    effort = rendition.effort
    if step.format == "jpeg":
        optimize = image.width * image.height <= OPTIMIZE_CODING_MAX_PIXELS
        small = pillowjpeg.encode(image, rendition.quality, optimize, pixels) if bare else None
        data = (
            small
            if small is not None
            else image.jpegsave_buffer(Q=rendition.quality, keep=keep, optimize_coding=optimize, subsample_mode="auto")
        )
    elif step.format == "webp":
        method = min(effort if effort is not None else 4, 6)
        fast = libwebp.encode(image, rendition.quality, method, pixels) if bare else None
        data = fast if fast is not None else image.webpsave_buffer(Q=rendition.quality, effort=method, keep=keep)
    elif step.format == "png":
        data = image.pngsave_buffer(compression=effort if effort is not None else 6, keep=keep)
    elif step.format == "avif":
        data = image.heifsave_buffer(
            Q=rendition.quality, compression="av1", effort=effort if effort is not None else 4, keep=keep
        )
    else:  # the planner only produces the four above
        raise ValueError(f"no encoder for {step.format!r}")
    return bytes(data)
