"""The codec floor: the irreducible cost of the job, with imgflow's codecs.

One JPEG decode with shrink-on-load (the largest DCT shrink, 1/2/4/8, that still leaves the
largest rendition at least its target size), held in memory, then the six encodes (JPEG q82 and
WebP q80 at 2048, 1024 and 256 px) of regions of exactly each output's pixel size cropped from that
one decode. No resampling, no rotation, no colour work, no metadata: any real engine must at least
decode the JPEG at that scale and encode that many pixels. With a budget of two threads the six
encodes are spread over two threads (the decode itself is serial in libjpeg).

The codecs are the ones imgflow uses: libvips' decoder (libjpeg-turbo 3 for progressive JPEGs,
:mod:`imgflow.processing.fastjpeg`, where it is installed) and JPEG encoder, and WebP through
:mod:`imgflow.processing.libwebp` (Pillow's libwebp, byte-identical to libvips' own) where that
library loads, else libvips' webpsave. The allocator is set as imgflow sets it
(:mod:`imgflow.processing.heap`).
"""

from __future__ import annotations

import math
from functools import partial

from bench.engines import JPEG_QUALITY, SIZES, WEBP_QUALITY, Budget, Output, contain


def prepare(threads: int) -> None:
    import pyvips

    from imgflow.processing import heap

    heap.tune()  # imgflow's allocator settings, as imgflow's engine lockdown sets them
    pyvips.concurrency_set(threads)
    # Every run decodes the same bytes: libvips' operation cache must not answer for it.
    pyvips.cache_set_max(0)


def shrink_for(width: int, height: int, target: tuple[int, int]) -> int:
    """The largest JPEG DCT shrink whose result still covers ``target``."""
    for shrink in (8, 4, 2):
        if math.ceil(width / shrink) >= target[0] and math.ceil(height / shrink) >= target[1]:
            return shrink
    return 1


def run(data: bytes, threads: int, webp_effort: int) -> list[Output]:
    import pyvips

    header = pyvips.Image.new_from_buffer(data, "")
    width, height = header.width, header.height
    boxes = [(name, contain(width, height, edge)) for name, edge in SIZES]
    shrink = shrink_for(width, height, boxes[0][1])
    from imgflow.processing import fastjpeg

    lazy = pyvips.Image.new_from_buffer(data, "", shrink=shrink, access="sequential")
    decoded = (fastjpeg.decode(data, lazy, shrink) or lazy).copy_memory()

    def jpeg(name: str, box: tuple[int, int]) -> Output:
        out = decoded.crop(0, 0, *box).jpegsave_buffer(Q=JPEG_QUALITY, keep="none")
        return Output(name, "jpeg", box[0], box[1], len(out))

    from imgflow.processing import libwebp

    def webp(name: str, box: tuple[int, int]) -> Output:
        region = decoded.crop(0, 0, *box)
        out = libwebp.encode(region, WEBP_QUALITY, webp_effort)
        if out is None:
            out = region.webpsave_buffer(Q=WEBP_QUALITY, effort=webp_effort, keep="none")
        return Output(name, "webp", box[0], box[1], len(out))

    with Budget[Output](threads) as budget:
        # Largest first: with two threads the big WebP starts at once and the rest fill the other thread.
        for name, box in boxes:
            budget.submit(partial(webp, name, box))
            budget.submit(partial(jpeg, name, box))
        return budget.gather()
