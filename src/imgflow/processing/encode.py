"""Encode one rendition in memory. Outputs carry no metadata unless the rendition keeps ICC."""

from __future__ import annotations

import pyvips

from imgflow.processing.plan import Step
from imgflow.recipes import Rgb
from imgflow.sniff import EXTENSIONS

EXTENSION = {**EXTENSIONS, "jpeg": "jpg", "avif": "avif"}
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


def encode(image: pyvips.Image, step: Step, background: Rgb) -> bytes:
    rendition = step.rendition
    keep = pyvips.enums.ForeignKeep.ICC if rendition.keep != "none" else pyvips.enums.ForeignKeep.NONE
    effort = rendition.effort
    if step.format == "jpeg":
        flat = flatten(image, background)
        data = flat.jpegsave_buffer(Q=rendition.quality, keep=keep, optimize_coding=True, subsample_mode="auto")
    elif step.format == "webp":
        data = image.webpsave_buffer(Q=rendition.quality, effort=min(effort if effort is not None else 4, 6), keep=keep)
    elif step.format == "png":
        data = image.pngsave_buffer(compression=effort if effort is not None else 6, keep=keep)
    elif step.format == "avif":
        data = image.heifsave_buffer(
            Q=rendition.quality, compression="av1", effort=effort if effort is not None else 4, keep=keep
        )
    else:  # the planner only produces the four above
        raise ValueError(f"no encoder for {step.format!r}")
    return bytes(data)
