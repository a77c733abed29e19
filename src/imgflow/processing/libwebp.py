"""Lossy WebP through Pillow's own libwebp, for still sRGB pictures that carry no metadata.

pyvips-binary and Pillow both carry libwebp 1.6, and libvips' webpsave makes exactly the calls
made here (a default config with quality and method, ``WebPPictureImportRGB``/``RGBA``,
``WebPEncode``): the files are byte for byte the same. Pillow's build takes 12-15% less CPU on
the same picture (docs/benchmarks.md), and WebP is two thirds of the default recipe's work.
libvips' encoder stays for everything else (metadata chunks, animation, grey, 16-bit) and
whenever Pillow's library is absent or speaks another ABI: :func:`encode` then returns None.

Bound with ctypes (no C parser at start-up). Its calls release the GIL, so encodes run side by
side on :mod:`.spread`'s threads as libvips' do."""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Any

import pyvips

#: the encoder ABI whose structs are declared below (libwebp >= 1.5); the library accepts any
#: ABI of the same major byte, and older ones only write a prefix of these structs
ABI = 0x0210
#: WebP's largest side; bigger pictures go to libvips, which words the refusal
MAX_SIDE = 16383

_int, _float, _u32, _ptr = ctypes.c_int, ctypes.c_float, ctypes.c_uint32, ctypes.c_void_p


#: struct WebPConfig's fields in order: all ints but the two floats
_CONFIG = (
    "lossless", "quality", "method", "image_hint", "target_size", "target_PSNR", "segments",
    "sns_strength", "filter_strength", "filter_sharpness", "filter_type", "autofilter",
    "alpha_compression", "alpha_filtering", "alpha_quality", "pass", "show_compressed",
    "preprocessing", "partitions", "partition_limit", "emulate_jpeg_size", "thread_level",
    "low_memory", "near_lossless", "exact", "use_delta_palette", "use_sharp_yuv", "qmin", "qmax",
)  # fmt: skip


class WebPConfig(ctypes.Structure):
    _fields_ = [(name, _float if name in ("quality", "target_PSNR") else _int) for name in _CONFIG]


class WebPMemoryWriter(ctypes.Structure):
    _fields_ = [("mem", ctypes.POINTER(ctypes.c_uint8)), ("size", ctypes.c_size_t), ("max_size", ctypes.c_size_t),
                ("pad", _u32 * 1)]  # fmt: skip


class WebPPicture(ctypes.Structure):
    _fields_ = [
        ("use_argb", _int), ("colorspace", _int), ("width", _int), ("height", _int),
        ("y", _ptr), ("u", _ptr), ("v", _ptr), ("y_stride", _int), ("uv_stride", _int),
        ("a", _ptr), ("a_stride", _int), ("pad1", _u32 * 2), ("argb", _ptr), ("argb_stride", _int),
        ("pad2", _u32 * 3), ("writer", _ptr), ("custom_ptr", _ptr), ("extra_info_type", _int),
        ("extra_info", _ptr), ("stats", _ptr), ("error_code", _int), ("progress_hook", _ptr),
        ("user_data", _ptr), ("pad3", _u32 * 3), ("pad4", _ptr), ("pad5", _ptr), ("pad6", _u32 * 8),
        ("memory_", _ptr), ("memory_argb_", _ptr), ("pad7", _ptr * 2),
    ]  # fmt: skip


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "WebPGetEncoderVersion": (_int, []),
    "WebPConfigInitInternal": (_int, [ctypes.POINTER(WebPConfig), _int, _float, _int]),
    "WebPPictureInitInternal": (_int, [ctypes.POINTER(WebPPicture), _int]),
    "WebPPictureImportRGB": (_int, [ctypes.POINTER(WebPPicture), _ptr, _int]),
    "WebPPictureImportRGBA": (_int, [ctypes.POINTER(WebPPicture), _ptr, _int]),
    "WebPPictureFree": (None, [ctypes.POINTER(WebPPicture)]),
    "WebPEncode": (_int, [ctypes.POINTER(WebPConfig), ctypes.POINTER(WebPPicture)]),
    "WebPMemoryWriterInit": (None, [ctypes.POINTER(WebPMemoryWriter)]),
    "WebPMemoryWriterClear": (None, [ctypes.POINTER(WebPMemoryWriter)]),
}

#: False turns this path off (the benchmark's comparison and the tests' reference encodes)
enabled = True


def library_path() -> str | None:
    """Pillow's bundled libwebp: ``pillow.libs`` beside ``PIL`` in a manylinux wheel,
    ``PIL/.dylibs`` in a macOS one. None for a Pillow built against a system library."""
    import PIL

    package = os.path.dirname(PIL.__file__)
    patterns = (
        os.path.join(os.path.dirname(package), "pillow.libs", "libwebp-*.so*"),
        os.path.join(package, ".dylibs", "libwebp*.dylib"),
    )
    found = sorted(path for pattern in patterns for path in glob.glob(pattern))
    return found[0] if found else None


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The library, loaded once per process, or None when there is no usable one."""
    return _load()


def _load() -> ctypes.CDLL | None:
    path = library_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)  # a CDLL call releases the GIL
        for name, (result, arguments) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = result, arguments
    except (OSError, AttributeError):
        return None
    if lib.WebPGetEncoderVersion() >> 16 != 1:  # libwebp 1.x: the struct layout declared above
        return None
    return lib


def version() -> str | None:
    """The loaded library's version ("1.6.0"), or None when libvips' encoder is used."""
    loaded = _library() if enabled else None
    if loaded is None:
        return None
    number = loaded.WebPGetEncoderVersion()
    return f"{number >> 16}.{(number >> 8) & 0xFF}.{number & 0xFF}"


def takes(image: pyvips.Image) -> bool:
    """A still 8-bit sRGB picture, RGB or RGBA, within WebP's sides."""
    return (
        image.format == "uchar"
        and image.bands in (3, 4)
        and image.interpretation == "srgb"
        and image.get_page_height() == image.height
        and max(image.width, image.height) <= MAX_SIDE
    )


def encode(image: pyvips.Image, quality: int, method: int, pixels: memoryview | None = None) -> bytes | None:
    """The lossy WebP libvips' ``webpsave_buffer(Q=quality, effort=method, keep=NONE)`` writes,
    or None when this path does not take the picture (the caller then asks libvips).
    ``pixels``: the image's own, when the caller holds them (:class:`.colour.Held`)."""
    lib = _library() if enabled and takes(image) else None
    if lib is None:
        return None
    if pixels is None:
        pixels = memoryview(image.write_to_memory())  # a writable buffer libvips allocated
    view = (ctypes.c_char * pixels.nbytes).from_buffer(pixels)
    config, picture, writer = WebPConfig(), WebPPicture(), WebPMemoryWriter()
    if not lib.WebPConfigInitInternal(config, 0, float(quality), ABI):
        return None
    if not lib.WebPPictureInitInternal(picture, ABI):
        return None
    config.method = method
    picture.width, picture.height = image.width, image.height
    lib.WebPMemoryWriterInit(writer)
    picture.writer = ctypes.cast(lib.WebPMemoryWrite, ctypes.c_void_p)
    picture.custom_ptr = ctypes.addressof(writer)
    load = lib.WebPPictureImportRGBA if image.bands == 4 else lib.WebPPictureImportRGB
    try:
        ok = load(picture, ctypes.addressof(view), image.width * image.bands) and lib.WebPEncode(config, picture)
        return ctypes.string_at(writer.mem, writer.size) if ok else None
    finally:
        lib.WebPPictureFree(picture)
        lib.WebPMemoryWriterClear(writer)
