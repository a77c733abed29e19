"""Progressive JPEGs decoded by libjpeg-turbo 3 (through simplejpeg), where it is installed.

pyvips-binary's libvips decodes JPEG with the mozjpeg 5 built into it, which is 25-30% slower
than libjpeg-turbo 3 on progressive files: 111 against 83 ms for the 13 MP progressive bench
photo at 1/2 scale, 69 against 48 ms for the 12 MP one (baseline files: 62 against 53 ms, too
little for the extra full-size buffer this path holds, so they stay with libvips). The pixels are
the same: both decoders are libjpeg-turbo's, with the same DCT and upsampling.

The extra ``fast-jpeg`` (simplejpeg, which brings numpy) is installed by ``make setup``,
``make run`` and the container image, not into the Lambda artefacts (their size budget): where it
is missing, or :data:`enabled` is off, :func:`decode` answers None and libvips decodes as before.
simplejpeg is imported at the first progressive JPEG only: numpy costs ~60 ms and ~16 MiB.

Strictness is libvips': simplejpeg's ``strict`` mode fails on any libjpeg warning (a cut scan,
corrupt entropy data, junk before a marker), and every failure answers None, so that libvips'
own decode gives the file's verdict and its words (:mod:`.engine`). Only plain 8-bit YCbCr or grey
files come here; CMYK, YCCK and anything else odd go to libvips.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

import pyvips

#: off: every JPEG goes through libvips (the tests compare the two paths)
enabled = True


@cache
def _module() -> ModuleType | None:
    try:
        return importlib.import_module("simplejpeg")
    except ImportError:
        return None


def available() -> bool:
    return enabled and _module() is not None


def takes(header: pyvips.Image) -> bool:
    """A progressive 8-bit JPEG of 3 (YCbCr/RGB) or 1 (grey) bands, as libvips' header sees it."""
    fields = header.get_fields()
    if "interlaced" not in fields or not header.get("interlaced"):
        return False
    if header.format != "uchar":
        return False
    return (header.bands, str(header.interpretation)) in ((3, "srgb"), (1, "b-w"))


#: the header fields the render path reads (colour, rotation) and the density JPEG outputs write;
#: the rest (EXIF, XMP, comments) is dropped there anyway
_CARRIED = ("icc-profile-data", "orientation", "resolution-unit")


def decode(data: bytes, header: pyvips.Image, shrink: int) -> pyvips.Image | None:
    """``data`` decoded at 1/``shrink`` scale into a libvips image of ``header``'s size (libvips'
    header of the same shrink-on-load: each side ``floor(side / shrink)``, where libjpeg-turbo
    gives the ceiling), with its ICC profile, orientation and density; None where this path does
    not apply or the decoder has any complaint."""
    if not enabled or not takes(header):
        return None
    module = _module()
    if module is None:
        return None
    want_w, want_h = header.width, header.height
    grey = header.bands == 1
    try:
        pixels = module.decode_jpeg(
            data,
            colorspace="GRAY" if grey else "RGB",
            min_factor=shrink,
            min_width=want_w,
            min_height=want_h,
            strict=True,
        )
    except (ValueError, OSError, MemoryError):
        return None
    rows, cols = pixels.shape[0], pixels.shape[1]
    if not (want_w <= cols <= want_w + 1 and want_h <= rows <= want_h + 1):
        return None  # not the scale libvips would give: let libvips decode
    image = pyvips.Image.new_from_memory(pixels.data, cols, rows, header.bands, "uchar")
    if (cols, rows) != (want_w, want_h):
        image = image.crop(0, 0, want_w, want_h)
    image = image.copy(interpretation="b-w" if grey else "srgb", xres=header.xres, yres=header.yres)
    fields = header.get_fields()
    for name in _CARRIED:
        if name in fields:
            image.set_type(header.get_typeof(name), name, header.get(name))
    return image
