"""Output sizes, purely: from the source's upright size and a transform, in device pixels.

``contain`` fits inside the box; ``cover`` fills it and crops by the gravity. Without
``up_1`` nothing is enlarged: a box bigger than the image gets the image's own size
(``cover``: the box clipped to the image). The aspect ratio is kept within 1 px; never 0 px.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgflow.ondemand.options import Transform


@dataclass(frozen=True)
class Geometry:
    #: the whole upright image is scaled to this
    resize_width: int
    resize_height: int
    #: then cut to this (equal to the resize for ``contain``)
    width: int
    height: int


def _scale(width: int, height: int, target: int, by_width: bool) -> tuple[int, int]:
    if by_width:
        return target, max(1, round(height * target / width))
    return max(1, round(width * target / height)), target


def geometry(width: int, height: int, t: Transform) -> Geometry:
    box_w, box_h = t.pixel_width, t.pixel_height
    if t.fit == "contain":
        by_width = box_h is None or (box_w is not None and box_w * height <= box_h * width)
        target = box_w if by_width else box_h
        assert target is not None
        if not t.upscale and target >= (width if by_width else height):
            return Geometry(width, height, width, height)
        w, h = _scale(width, height, target, by_width)
        w, h = min(w, box_w or w), min(h, box_h or h)
        return Geometry(w, h, w, h)
    assert box_w is not None
    assert box_h is not None
    by_width = box_w * height >= box_h * width
    target = box_w if by_width else box_h
    if not t.upscale and target >= (width if by_width else height):
        return Geometry(width, height, min(box_w, width), min(box_h, height))
    w, h = _scale(width, height, target, by_width)
    return Geometry(max(w, box_w), max(h, box_h), box_w, box_h)


def crop_origin(resize_w: int, resize_h: int, width: int, height: int, gravity: str) -> tuple[int, int]:
    """The top-left corner of a ``width`` x ``height`` cut from the resized image (not ``attention``)."""
    spare_w, spare_h = resize_w - width, resize_h - height
    left = 0 if "west" in gravity else spare_w if "east" in gravity else spare_w // 2
    top = 0 if "north" in gravity else spare_h if "south" in gravity else spare_h // 2
    return left, top
