"""Pillow, well written: what a careful engineer does with Pillow alone.

``Image.draft`` asks libjpeg for the largest DCT shrink that still covers the 2048 px box (the
same shrink-on-load libvips does); the image is converted to RGB once; the renditions are a cascade
2048 -> 1024 -> 256, each a LANCZOS ``resize`` with ``reducing_gap=3.0`` from the previous one; the
EXIF orientation (``ImageOps.exif_transpose``, in place) is applied to the 2048 px result rather than
to the full decode. With a budget of two threads the encodes of one size run on a second thread
while the caller resizes the next (Pillow releases the GIL in resize and in both encoders).
"""

from __future__ import annotations

import io
from functools import partial
from typing import TYPE_CHECKING

from bench.engines import JPEG_QUALITY, SIZES, WEBP_QUALITY, Budget, Output, contain

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: EXIF orientations that swap width and height
_SWAPS = {5, 6, 7, 8}


def prepare(threads: int) -> None:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 60_000_000


def encode(name: str, fmt: str, image: PILImage.Image, webp_effort: int) -> Output:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=webp_effort)
    return Output(name, fmt, image.width, image.height, buffer.tell())


def run(data: bytes, threads: int, webp_effort: int) -> list[Output]:
    from PIL import Image, ImageOps

    image: PILImage.Image = Image.open(io.BytesIO(data))
    orientation = int(image.getexif().get(0x0112, 1))
    swap = orientation in _SWAPS
    width, height = image.size
    oriented = (height, width) if swap else (width, height)
    boxes = [(name, contain(*oriented, edge)) for name, edge in SIZES]
    # draft and resize work in the stored orientation
    stored = [(name, (box[1], box[0]) if swap else box) for name, box in boxes]
    image.draft("RGB", stored[0][1])
    if image.mode != "RGB":
        image = image.convert("RGB")
    with Budget[Output](threads) as budget:
        current = image.resize(stored[0][1], Image.Resampling.LANCZOS, reducing_gap=3.0)
        if orientation != 1:
            # the resized image still carries the EXIF block, so exif_transpose finds it there
            ImageOps.exif_transpose(current, in_place=True)
        for index, (name, box) in enumerate(boxes):
            if index:
                current = current.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
            budget.submit(partial(encode, name, "jpeg", current, webp_effort))
            budget.submit(partial(encode, name, "webp", current, webp_effort))
        return budget.gather()
