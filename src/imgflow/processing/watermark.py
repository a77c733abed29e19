"""Stamp text or a logo on a rendition: any band layout in (grey, grey+alpha, RGB, RGBA)."""

from __future__ import annotations

import html
from functools import lru_cache
from io import BytesIO

import pyvips

from imgflow.errors import BadRecipe
from imgflow.recipes import Watermark


@lru_cache(maxsize=8)
def _logo(data: bytes) -> pyvips.Image:
    """The operator's logo as 8-bit RGBA (decoded by Pillow: the libvips loaders stay locked to the accept-list)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data), formats=["PNG", "JPEG", "WEBP"]) as img:
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadRecipe(f"the watermark image cannot be read: {exc}") from None
    pixels = rgba.tobytes()  # held here until copy_memory() has read it
    image = pyvips.Image.new_from_memory(pixels, rgba.width, rgba.height, 4, "uchar")
    return image.copy(interpretation="srgb").copy_memory()


def _fit(image: pyvips.Image, max_w: int, max_h: int) -> pyvips.Image:
    scale = min(1.0, max_w / image.width, max_h / image.height)
    if scale >= 1.0:
        return image
    return image.resize(scale)


def _overlay(mark: Watermark, width: int, height: int) -> tuple[pyvips.Image, pyvips.Image]:
    """(colour as sRGB 3 bands, alpha 0..1 as 1 float band), fitted inside width x height."""
    target = max(1, round(min(width, height) * mark.size))
    if mark.text:
        mask = pyvips.Image.text(html.escape(mark.text), font=f"sans bold {target}", dpi=72)
        mask = _fit(mask, width, height)
        colour = mask.new_from_image(list(mark.color)).copy(interpretation="srgb")
        return colour, mask.cast("float") * (mark.opacity / 255.0)
    if mark.image is None:
        raise BadRecipe("the watermark has neither text nor a loaded image (image_path is read by the settings)")
    logo = _logo(mark.image)
    logo = _fit(logo.resize(target / logo.height), width, height)
    return logo[:3].copy(interpretation="srgb"), logo[3].cast("float") * (mark.opacity / 255.0)


def _origin(mark: Watermark, width: int, height: int, ow: int, oh: int) -> tuple[int, int]:
    margin = max(0, min(mark.margin, (width - ow) // 2, (height - oh) // 2))
    left, right, top, bottom = margin, width - ow - margin, margin, height - oh - margin
    return {
        "top-left": (left, top),
        "top-right": (right, top),
        "bottom-left": (left, bottom),
        "bottom-right": (right, bottom),
        "center": ((width - ow) // 2, (height - oh) // 2),
    }[mark.position]


def stamp(image: pyvips.Image, mark: Watermark) -> pyvips.Image:
    colour, alpha = _overlay(mark, image.width, image.height)
    x, y = _origin(mark, image.width, image.height, colour.width, colour.height)
    has_alpha = image.hasalpha()
    colour_bands = image.bands - (1 if has_alpha else 0)
    grey_mark = len(set(mark.color)) == 1 and mark.text is not None
    if colour_bands == 1 and grey_mark:
        colour = colour[0]
    elif colour_bands < 3:
        image = image.colourspace("srgb")
        colour_bands = 3
    region = image.crop(x, y, colour.width, colour.height)
    base = region[:colour_bands] if has_alpha else region
    mixed = base * (1 - alpha) + colour * alpha
    if has_alpha:
        # "over": the stamp adds coverage where the rendition was transparent
        below = region[colour_bands].cast("float") / 255.0
        out_alpha = alpha + below * (1 - alpha)
        safe = (out_alpha == 0).ifthenelse(1.0, out_alpha)
        mixed = (out_alpha == 0).ifthenelse(base, (base * below * (1 - alpha) + colour * alpha) / safe)
        mixed = mixed.bandjoin(out_alpha * 255.0)
    patch = (mixed + 0.5).cast("uchar").copy(interpretation=image.interpretation)
    return image.insert(patch, x, y)
