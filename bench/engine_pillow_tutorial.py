"""Pillow as the tutorials write it: decode everything, rotate everything, resize the full image.

``ImageOps.exif_transpose`` on the freshly opened image (a full decode, then a full-size rotation
or copy), ``convert("RGB")``, then for each size a LANCZOS ``resize`` of the FULL image and the two
encodes. Single-threaded whatever the budget: tutorials do not spread work over threads.
"""

from __future__ import annotations

import io

from bench.engine_pillow import encode
from bench.engines import SIZES, Output, contain


def prepare(threads: int) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 60_000_000


def run(data: bytes, threads: int, webp_effort: int) -> list[Output]:
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    outputs: list[Output] = []
    for name, edge in SIZES:
        resized = image.resize(contain(*image.size, edge), Image.Resampling.LANCZOS)
        outputs.append(encode(name, "jpeg", resized, webp_effort))
        outputs.append(encode(name, "webp", resized, webp_effort))
    return outputs
