"""Pixel helpers for the processing tests: compare images by similarity, never by bytes."""

from __future__ import annotations

from io import BytesIO
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


#: every format imgflow accepts, as ``make_image`` names them
ACCEPTED = ("jpeg", "png", "webp", "gif", "avif", "heif", "tiff")


def pattern(width: int, height: int, bands: int = 3) -> pyvips.Image:
    """A deterministic, busy 8-bit picture (gradients and noise, so encoders have work to do)."""
    x = pyvips.Image.xyz(width, height)
    red = (x[0] * 255 / max(1, width - 1)).cast("uchar")
    green = (x[1] * 255 / max(1, height - 1)).cast("uchar")
    blue = ((x[0] * 7 + x[1] * 13) % 256).cast("uchar")
    image = red.bandjoin([green, blue]).copy(interpretation="srgb")
    if bands == 4:
        image = image.bandjoin(((x[0] + x[1]) % 256).cast("uchar")).copy(interpretation="srgb")
    return image


def make_image(fmt: str, width: int, height: int, bands: int = 3) -> bytes:
    """A generated file of ``fmt`` (one of :data:`ACCEPTED`); HEIC through pillow-heif (x265)."""
    image = pattern(width, height, bands)
    if fmt == "heif":
        import pillow_heif
        from PIL import Image

        mode = "RGBA" if bands == 4 else "RGB"
        pil = Image.frombytes(mode, (width, height), image.write_to_memory())
        out = BytesIO()
        pillow_heif.from_pillow(pil).save(out, quality=80)
        return out.getvalue()
    savers = {
        "jpeg": lambda: image.jpegsave_buffer(Q=90),
        "png": lambda: image.pngsave_buffer(),
        "webp": lambda: image.webpsave_buffer(Q=90),
        "gif": lambda: image.gifsave_buffer(),
        "avif": lambda: image.heifsave_buffer(compression="av1", Q=80, effort=0),
        "tiff": lambda: image.tiffsave_buffer(),
    }
    return bytes(savers[fmt]())
