"""imgflow's processing core, as the service calls it: ``process_image(data, recipe, limits)``.

The default recipe (2048, 1024, 256 px, contain, no upscale, JPEG q82 + WebP q80), with the
WebP renditions' ``effort`` set explicitly (4 in the main comparison, swept for the effort table).
The thread budget goes in as ``Limits.threads`` and as libvips' concurrency. The whole job is
timed: probing, facts (EXIF summary, blurhash, sha256), rendering, encoding.
"""

from __future__ import annotations

from bench.engines import Output


def prepare(threads: int) -> None:
    import pyvips

    import imgflow.processing  # noqa: F401  (import cost stays out of the timings)

    pyvips.concurrency_set(threads)
    # Every run decodes the same bytes: libvips' operation cache must not answer for it.
    pyvips.cache_set_max(0)


def run(data: bytes, threads: int, webp_effort: int) -> list[Output]:
    from imgflow.processing import process_image
    from imgflow.recipes import Limits, default_recipe

    base = default_recipe()
    renditions = tuple(
        r.model_copy(update={"effort": webp_effort}) if r.format == "webp" else r for r in base.renditions
    )
    recipe = base.model_copy(update={"renditions": renditions})
    result = process_image(data, recipe, Limits(threads=threads))
    return [
        Output(r.facts.name, r.facts.format, r.facts.width, r.facts.height, r.facts.bytes) for r in result.renditions
    ]
