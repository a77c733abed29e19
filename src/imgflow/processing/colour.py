"""Pixels into one shape: upright, 8-bit, sRGB (or 8-bit grey), alpha kept, sizes exact."""

from __future__ import annotations

from dataclasses import dataclass

import pyvips

_GREY = ("b-w", "grey16")
#: metadata that must never reach an output (keep="none" strips it too: this is the second lock)
_PRIVATE = ("exif", "xmp", "iptc", "gps", "comment", "gainmap", "orientation", "text", "png-")


#: the fields every libvips image has, set by :meth:`pyvips.Image.new_from_memory` and ``copy``
_HEADER = frozenset(
    ("width", "height", "bands", "format", "coding", "interpretation", "xoffset", "yoffset", "xres", "yres", "filename")
)


@dataclass(frozen=True)
class Held:
    """An image computed into one block of memory, and that block: its pixels band-packed, row
    after row. Encoders that take raw pixels (:mod:`.libwebp`, :mod:`.pillowjpeg`) read them
    from ``block`` instead of copying them out of libvips again."""

    image: pyvips.Image
    block: memoryview


def hold(image: pyvips.Image) -> Held:
    """What ``image.copy_memory()`` makes (every field kept), with its block of memory."""
    block = memoryview(image.write_to_memory())
    held = pyvips.Image.new_from_memory(block, image.width, image.height, image.bands, image.format)
    held = held.copy(
        interpretation=image.interpretation,
        xres=image.xres,
        yres=image.yres,
        xoffset=image.xoffset,
        yoffset=image.yoffset,
    )
    for name in image.get_fields():
        if name not in _HEADER:
            held.set_type(image.get_typeof(name), name, image.get(name))
    return Held(held, block)


def to_srgb(image: pyvips.Image) -> pyvips.Image:
    """Embedded ICC profile (or CMYK) -> sRGB via lcms; 16-bit -> 8-bit scaled, never clipped."""
    fields = image.get_fields()
    interpretation = str(image.interpretation)
    if "icc-profile-data" in fields or interpretation == "cmyk":
        try:
            fallback = "cmyk" if interpretation == "cmyk" else "srgb"
            return image.icc_transform("srgb", embedded=True, input_profile=fallback, intent="relative")
        except pyvips.Error:
            pass  # a broken profile: fall back to a plain colourspace conversion
    target = "b-w" if interpretation in _GREY else "srgb"
    if interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def strip_private(image: pyvips.Image) -> pyvips.Image:
    """A copy without EXIF/XMP/IPTC/comments: only pixels, ICC and animation fields remain."""
    image = image.copy()
    for name in image.get_fields():
        if any(token in name for token in _PRIVATE):
            image.remove(name)
    return image


def resize_to(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Exactly ``width`` x ``height`` (aspect is the planner's business), alpha premultiplied."""
    if (image.width, image.height) == (width, height):
        return image
    alpha = image.hasalpha()
    work = image.premultiply() if alpha else image
    out = work.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    if alpha:
        out = out.unpremultiply()
    if out.format != "uchar":
        out = out.cast("uchar")
    if out.width > width or out.height > height:
        out = out.crop(0, 0, min(width, out.width), min(height, out.height))
    if out.width < width or out.height < height:
        out = out.embed(0, 0, width, height, extend="copy")
    return out


def pages(image: pyvips.Image) -> list[pyvips.Image]:
    """The frames of a toilet-roll (multi-page) image."""
    height = image.get_page_height()
    if height >= image.height:
        return [image]
    return [image.crop(0, i * height, image.width, height) for i in range(image.height // height)]


def join_pages(frames: list[pyvips.Image], like: pyvips.Image) -> pyvips.Image:
    if len(frames) == 1:
        return frames[0]
    out = pyvips.Image.arrayjoin(frames, across=1).copy()
    out.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    fields = like.get_fields()
    if "delay" in fields:
        out.set_type(pyvips.GValue.array_int_type, "delay", like.get("delay"))
    if "loop" in fields:
        out.set_type(pyvips.GValue.gint_type, "loop", like.get("loop"))
    return out


def per_page(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Resize each frame of an animation to ``width`` x ``height``."""
    frames = pages(image)
    if len(frames) == 1:
        return resize_to(image, width, height)
    return join_pages([resize_to(f, width, height) for f in frames], image)
