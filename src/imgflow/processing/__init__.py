"""The processing core: bytes and a recipe in, renditions and facts out. libvips through pyvips.

Pure: no I/O beyond the bytes it is given, no environment, no AWS.
"""

from __future__ import annotations

import pyvips

from imgflow.errors import ProcessingFailed
from imgflow.facts import ImageFacts, ProcessResult
from imgflow.processing import blur, engine
from imgflow.processing.exif import credits
from imgflow.processing.plan import plan
from imgflow.processing.probe import inspect, probe
from imgflow.processing.render import decode_base, render
from imgflow.recipes import Limits, Recipe

__all__ = ["probe", "process_image"]


def process_image(data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult:
    """Probe (limits enforced on headers), plan, decode once, make every rendition in memory.

    Raises :class:`imgflow.errors.InputError` subclasses for bad images; nothing partial is returned.
    """
    probed = inspect(data, limits)
    steps = plan(probed.facts, recipe)
    base = decode_base(data, probed, steps)
    wanted = any(r.keep == "icc+copyright" for r in recipe.renditions)
    credit = credits(probed.exif_blob) if wanted else ()
    try:
        renditions, smallest = render(base, steps, recipe.background, credit, limits.threads)
        hash_ = blur.blurhash_of(smallest)
    except pyvips.Error as exc:
        raise ProcessingFailed(f"making the renditions failed ({engine.describe(exc)})") from None
    facts: ImageFacts = probed.facts.model_copy(update={"blurhash": hash_})
    return ProcessResult(facts=facts, renditions=renditions)
