"""Plan purely: from an image's facts and a recipe, decide every rendition as data.

No pyvips here. Sizes are in oriented (upright) pixels.

Rules: never upscale unless the rendition asks; never 0 px; the aspect ratio is
kept within 1 px; ``cover``/``attention`` crop to exactly the box (when the image
is smaller than the box and upscaling is off, the crop is the box clipped to the
image instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imgflow.facts import ImageFacts
from imgflow.recipes import Recipe, Rendition

Crop = Literal["none", "centre", "attention"]

#: output format for ``format: same``: JPEG for formats browsers cannot show or that need no alpha
SAME_FORMAT: dict[str, str] = {
    "jpeg": "jpeg",
    "png": "png",
    "webp": "webp",
    "gif": "webp",
    "avif": "avif",
    "heif": "jpeg",
    "tiff": "jpeg",
}
#: outputs that can carry frames; ``animation: keep`` only animates these
ANIMATED_OUTPUTS = frozenset({"webp"})
ANIMATED_INPUTS = frozenset({"gif", "webp"})


@dataclass(frozen=True)
class Step:
    rendition: Rendition
    format: str
    #: the size the whole upright image is scaled to
    resize_width: int
    resize_height: int
    crop: Crop
    #: the final size (after the crop)
    width: int
    height: int
    animated: bool


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    #: the uncropped base every step is derived from: the largest resize
    base_width: int
    base_height: int
    #: decode every frame (some step keeps the animation)
    all_frames: bool


def output_format(rendition: Rendition, input_format: str, has_alpha: bool) -> str:
    if rendition.format != "same":
        return rendition.format
    if input_format == "tiff" and has_alpha:
        return "png"
    return SAME_FORMAT.get(input_format, "jpeg")


def _scale_to(width: int, height: int, target: int, by_width: bool) -> tuple[int, int]:
    """Scale so one side becomes ``target`` exactly; the other side rounds (never below 1)."""
    if by_width:
        return target, max(1, round(height * target / width))
    return max(1, round(width * target / height)), target


def contain_size(width: int, height: int, rendition: Rendition) -> tuple[int, int]:
    box_w, box_h = rendition.width, rendition.height
    if box_w is None and box_h is None:
        return width, height
    by_width = box_h is None or (box_w is not None and box_w * height <= box_h * width)
    target = box_w if by_width else box_h
    assert target is not None
    if not rendition.upscale and target >= (width if by_width else height):
        return width, height
    w, h = _scale_to(width, height, target, by_width)
    # rounding the free side may overshoot its box by one: clamp, staying within 1 px of the aspect
    return min(w, box_w or w), min(h, box_h or h)


def cover_size(width: int, height: int, rendition: Rendition) -> tuple[int, int, int, int]:
    """(resize_w, resize_h, crop_w, crop_h) for cover/attention."""
    box_w, box_h = rendition.width, rendition.height
    assert box_w is not None
    assert box_h is not None
    by_width = box_w * height >= box_h * width  # the box is relatively wider: width decides
    target = box_w if by_width else box_h
    if not rendition.upscale and target >= (width if by_width else height):
        return width, height, min(box_w, width), min(box_h, height)
    w, h = _scale_to(width, height, target, by_width)
    w, h = max(w, box_w), max(h, box_h)
    return w, h, box_w, box_h


def plan(facts: ImageFacts, recipe: Recipe) -> Plan:
    width, height = facts.oriented_width, facts.oriented_height
    steps: list[Step] = []
    for rendition in recipe.renditions:
        fmt = output_format(rendition, facts.format, facts.has_alpha)
        animated = (
            rendition.animation == "keep"
            and facts.frames > 1
            and facts.format in ANIMATED_INPUTS
            and fmt in ANIMATED_OUTPUTS
        )
        if rendition.fit == "contain":
            rw, rh = contain_size(width, height, rendition)
            steps.append(Step(rendition, fmt, rw, rh, "none", rw, rh, animated))
        else:
            rw, rh, cw, ch = cover_size(width, height, rendition)
            crop: Crop = "attention" if rendition.fit == "attention" and not animated else "centre"
            steps.append(Step(rendition, fmt, rw, rh, crop, cw, ch, animated))
    largest = max(steps, key=lambda s: (s.resize_width * s.resize_height, s.resize_width))
    return Plan(
        steps=tuple(steps),
        base_width=largest.resize_width,
        base_height=largest.resize_height,
        all_frames=any(s.animated for s in steps),
    )
