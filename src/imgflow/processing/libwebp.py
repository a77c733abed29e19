"""Lossy WebP through Pillow's own libwebp, for still sRGB pictures that carry no metadata.

pyvips-binary and Pillow both carry libwebp 1.6, and libvips' webpsave makes exactly the calls
made here (a default config with quality and method, ``WebPPictureImportRGB``/``RGBA``,
``WebPEncode``): the files are byte for byte the same. Pillow's build takes 12-15% less CPU on
the same picture (docs/benchmarks.md), and WebP is two thirds of the default recipe's work.
libvips' encoder stays for everything else (metadata chunks, animation, grey, 16-bit) and
whenever Pillow's library is absent or speaks another ABI: :func:`encode` then returns None.

The calls release the GIL (cffi does for every foreign call), so encodes run side by side on
:mod:`.spread`'s threads as libvips' do."""

from __future__ import annotations

import glob
import os
import threading
from typing import Any

import pyvips

#: the encoder ABI whose structs are declared below (libwebp >= 1.5); the library accepts any
#: ABI of the same major byte, and older ones only write a prefix of these structs
ABI = 0x0210
#: WebP's largest side; bigger pictures go to libvips, which words the refusal
MAX_SIDE = 16383

_DECLARATIONS = """
typedef struct {
  int lossless; float quality; int method; int image_hint; int target_size; float target_PSNR;
  int segments; int sns_strength; int filter_strength; int filter_sharpness; int filter_type;
  int autofilter; int alpha_compression; int alpha_filtering; int alpha_quality; int pass;
  int show_compressed; int preprocessing; int partitions; int partition_limit;
  int emulate_jpeg_size; int thread_level; int low_memory; int near_lossless; int exact;
  int use_delta_palette; int use_sharp_yuv; int qmin; int qmax;
} WebPConfig;
typedef struct { uint8_t* mem; size_t size; size_t max_size; uint32_t pad[1]; } WebPMemoryWriter;
typedef struct WebPPicture WebPPicture;
typedef int (*WebPWriterFunction)(const uint8_t*, size_t, const WebPPicture*);
struct WebPPicture {
  int use_argb; int colorspace; int width, height; uint8_t *y, *u, *v; int y_stride, uv_stride;
  uint8_t* a; int a_stride; uint32_t pad1[2]; uint32_t* argb; int argb_stride; uint32_t pad2[3];
  WebPWriterFunction writer; void* custom_ptr; int extra_info_type; uint8_t* extra_info;
  void* stats; int error_code; void* progress_hook; void* user_data; uint32_t pad3[3];
  uint8_t *pad4, *pad5; uint32_t pad6[8]; void* memory_; void* memory_argb_; void* pad7[2];
};
int WebPGetEncoderVersion(void);
int WebPConfigInitInternal(WebPConfig*, int, float, int);
int WebPPictureInitInternal(WebPPicture*, int);
int WebPPictureImportRGB(WebPPicture*, const uint8_t*, int);
int WebPPictureImportRGBA(WebPPicture*, const uint8_t*, int);
void WebPPictureFree(WebPPicture*);
int WebPEncode(const WebPConfig*, WebPPicture*);
void WebPMemoryWriterInit(WebPMemoryWriter*);
void WebPMemoryWriterClear(WebPMemoryWriter*);
int WebPMemoryWrite(const uint8_t*, size_t, const WebPPicture*);
"""

_lock = threading.Lock()
_loaded: dict[str, Any] = {}
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


def _library() -> tuple[Any, Any] | None:
    """(ffi, lib) once per process, or None when there is no usable library."""
    with _lock:
        if "lib" not in _loaded:
            _loaded["lib"] = _load()
        return _loaded["lib"]  # type: ignore[no-any-return]


def _load() -> tuple[Any, Any] | None:
    path = library_path()
    if path is None:
        return None
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_DECLARATIONS)
    try:
        lib = ffi.dlopen(path)
        version = lib.WebPGetEncoderVersion()
    except (OSError, AttributeError):
        return None
    if version >> 16 != 1:  # libwebp 1.x: the struct layout declared above
        return None
    return ffi, lib


def version() -> str | None:
    """The loaded library's version ("1.6.0"), or None when libvips' encoder is used."""
    loaded = _library() if enabled else None
    if loaded is None:
        return None
    number = loaded[1].WebPGetEncoderVersion()
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


def encode(image: pyvips.Image, quality: int, method: int) -> bytes | None:
    """The lossy WebP libvips' ``webpsave_buffer(Q=quality, effort=method, keep=NONE)`` writes,
    or None when this path does not take the picture (the caller then asks libvips)."""
    loaded = _library() if enabled and takes(image) else None
    if loaded is None:
        return None
    ffi, lib = loaded
    pixels = image.write_to_memory()
    config = ffi.new("WebPConfig*")
    picture = ffi.new("WebPPicture*")
    writer = ffi.new("WebPMemoryWriter*")
    if not lib.WebPConfigInitInternal(config, 0, float(quality), ABI):
        return None
    if not lib.WebPPictureInitInternal(picture, ABI):
        return None
    config.method = method
    picture.width, picture.height = image.width, image.height
    lib.WebPMemoryWriterInit(writer)
    picture.writer = lib.WebPMemoryWrite
    picture.custom_ptr = writer
    load = lib.WebPPictureImportRGBA if image.bands == 4 else lib.WebPPictureImportRGB
    try:
        ok = load(picture, ffi.from_buffer("uint8_t[]", pixels), image.width * image.bands) and lib.WebPEncode(
            config, picture
        )
        return bytes(ffi.buffer(writer.mem, writer.size)) if ok else None
    finally:
        lib.WebPPictureFree(picture)
        lib.WebPMemoryWriterClear(writer)
