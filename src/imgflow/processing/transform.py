"""Render one on-demand transform: one shrink-on-load decode of the source, resize, cut, encode.

The source is a stored rendition (already upright, sRGB, stripped) or the original (the pixel
cap and the accept-list apply, as at upload); :func:`decode_base` makes both the same shape.
"""

from __future__ import annotations

import pyvips

from imgflow.errors import ProcessingFailed
from imgflow.ondemand.geometry import crop_origin
from imgflow.ondemand.resolve import RenderJob
from imgflow.processing import colour, encode, engine
from imgflow.processing.plan import Plan, Step
from imgflow.processing.probe import inspect
from imgflow.processing.render import decode_base
from imgflow.recipes import Limits, Rendition


def _step(job: RenderJob) -> Step:
    rendition = Rendition(name="t", format=job.format, quality=job.quality)
    return Step(
        rendition=rendition,
        format=job.format,
        resize_width=job.resize_width,
        resize_height=job.resize_height,
        crop="none",
        width=job.width,
        height=job.height,
        animated=False,
    )


def _cut(image: pyvips.Image, job: RenderJob) -> pyvips.Image:
    if (image.width, image.height) == (job.width, job.height):
        return image
    if job.gravity == "attention":
        return image.smartcrop(job.width, job.height, interesting="attention")
    left, top = crop_origin(image.width, image.height, job.width, job.height, job.gravity)
    return image.crop(left, top, job.width, job.height)


def render_transform(data: bytes, job: RenderJob, limits: Limits) -> bytes:
    """The encoded output. Raises :class:`imgflow.errors.InputError` for a source that breaks a
    limit or does not decode, ProcessingFailed when a later stage fails."""
    probed = inspect(data, limits)
    step = _step(job)
    plan = Plan(steps=(step,), base_width=job.resize_width, base_height=job.resize_height, all_frames=False)
    base = decode_base(data, probed, plan)
    try:
        image = _cut(colour.pages(base.image)[0], job)
        return encode.encode(image, step, job.background, held=base)
    except pyvips.Error as exc:
        raise ProcessingFailed(f"rendering the transform failed ({engine.describe(exc)})") from None
