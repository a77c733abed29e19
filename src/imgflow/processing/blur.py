"""BlurHash (https://blurha.sh) of a small upright image.

The same algorithm, quantisation and base-83 text as the reference encoder (the ``blurhash``
package, which the tests use as the oracle), computed separably: each row is projected on the x
cosines once, then the rows on the y cosines. That is ~6x fewer Python operations than the
reference's per-component double loop (~1 ms instead of ~7 ms for a 32 px thumbnail).
"""

from __future__ import annotations

import math
from operator import mul

import pyvips

from imgflow.processing import colour
from imgflow.processing.encode import flatten

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
#: sRGB byte -> linear light
_LINEAR = tuple(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in (i / 255 for i in range(256)))
#: the thumbnail's longest side
EDGE = 32


def _base83(value: int, length: int) -> str:
    return "".join(_ALPHABET[value // 83 ** (length - i) % 83] for i in range(1, length + 1))


def _to_srgb(value: float) -> int:
    value = max(0.0, min(1.0, value))
    if value <= 0.0031308:
        return int(value * 12.92 * 255 + 0.5)
    return int((1.055 * math.pow(value, 1 / 2.4) - 0.055) * 255 + 0.5)


def _ac(value: float, norm: float) -> int:
    scaled = math.copysign(math.pow(abs(value / norm), 0.5), value)
    return int(max(0.0, min(18.0, math.floor(scaled * 9.0 + 9.5))))


def encode(rgb: bytes, width: int, height: int, components_x: int = 4, components_y: int = 3) -> str:
    """The BlurHash of packed 8-bit RGB pixels (``width * height * 3`` bytes)."""
    linear = [_LINEAR[b] for b in rgb]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(components_x)]
    cos_y = [[math.cos(math.pi * j * y / height) for y in range(height)] for j in range(components_y)]
    sums = [[0.0, 0.0, 0.0] for _ in range(components_x * components_y)]
    stride = width * 3
    for y in range(height):
        row = linear[y * stride : (y + 1) * stride]
        bands = (row[0::3], row[1::3], row[2::3])
        for i, weights in enumerate(cos_x):
            projected = [sum(map(mul, weights, band)) for band in bands]
            for j in range(components_y):
                factor = cos_y[j][y]
                total = sums[j * components_x + i]
                for c in range(3):
                    total[c] += factor * projected[c]
    area = width * height
    components = [[v * (1.0 if k == 0 else 2.0) / area for v in total] for k, total in enumerate(sums)]
    dc, ac = components[0], components[1:]
    largest = max((abs(v) for component in ac for v in component), default=0.0)
    quant_max = int(max(0, min(82, math.floor(largest * 166 - 0.5))))
    norm = (quant_max + 1) / 166.0
    text = _base83((components_x - 1) + (components_y - 1) * 9, 1) + _base83(quant_max, 1)
    text += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    for r, g, b in ac:
        text += _base83(_ac(r, norm) * 19 * 19 + _ac(g, norm) * 19 + _ac(b, norm), 2)
    return text


def thumbnail_rgb(image: pyvips.Image) -> tuple[bytes, int, int]:
    """The first frame at :data:`EDGE` px on its longest side, alpha flattened on white, as RGB."""
    first = colour.pages(image)[0]
    scale = EDGE / max(first.width, first.height)
    width, height = max(1, round(first.width * scale)), max(1, round(first.height * scale))
    small = colour.resize_to(first, width, height)
    small = flatten(small, (255, 255, 255))
    if small.bands < 3:
        small = small.colourspace("srgb")
    small = small[:3]
    return bytes(small.write_to_memory()), small.width, small.height


def blurhash_of(image: pyvips.Image) -> str:
    """BlurHash (4x3 components) of a 32 px thumbnail of ``image``'s first frame."""
    return encode(*thumbnail_rgb(image))
