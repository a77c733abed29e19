"""The codec floor again, with Pillow's codecs (its own libjpeg-turbo and libwebp builds).

Same definition as :mod:`bench.engine_floor`: one decode with the JPEG DCT shrink (``draft``) that
still covers the 2048 px box, then six encodes of crops of exactly each output's pixel size. Not a
target; it shows how much of a gap between engines is the codec builds rather than the pipelines.
"""

from __future__ import annotations

import io
from functools import partial

from bench.engine_pillow import encode
from bench.engines import SIZES, Budget, Output, contain


def prepare(threads: int) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 60_000_000


def run(data: bytes, threads: int, webp_effort: int) -> list[Output]:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    boxes = [(name, contain(*image.size, edge)) for name, edge in SIZES]
    image.draft("RGB", boxes[0][1])
    image.load()
    with Budget[Output](threads) as budget:
        for name, box in boxes:
            region = image.crop((0, 0, *box))
            budget.submit(partial(encode, name, "webp", region, webp_effort))
            budget.submit(partial(encode, name, "jpeg", region, webp_effort))
        return budget.gather()
