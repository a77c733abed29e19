"""Pixel helpers for the processing tests: compare images by similarity, never by bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvips

from imgflow.facts import ProcessResult
from imgflow.processing import process_image
from imgflow.recipes import Limits, Recipe, Rendition

LIMITS = Limits()
SMALL = Recipe(
    name="small",
    renditions=(
        Rendition(name="still", width=160, height=160, format="jpeg"),
        Rendition(name="square", width=64, height=64, fit="cover", format="webp"),
        Rendition(name="same", width=96, height=96, format="same", animation="keep"),
    ),
)


def run(path: Path, recipe: Recipe = SMALL, limits: Limits = LIMITS) -> ProcessResult:
    return process_image(path.read_bytes(), recipe, limits)


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def array(image: pyvips.Image) -> np.ndarray:
    raw = image.cast("uchar").write_to_memory()
    return np.ndarray(buffer=raw, dtype=np.uint8, shape=(image.height, image.width, image.bands)).copy()


def grey_thumb(image: pyvips.Image, size: int = 48) -> np.ndarray:
    """A small grey thumbnail (alpha flattened on white), values 0..255 as floats."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    image = image.colourspace("b-w")[0]
    small = image.resize(size / image.width, vscale=size / image.height)
    return array(small)[:, :, 0].astype(float)


def mad(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean absolute difference of grey thumbnails: 0 identical, ~5 same picture, 30+ different."""
    return float(np.abs(grey_thumb(a) - grey_thumb(b)).mean())
