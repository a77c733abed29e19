"""libvips, locked down at first use, and the one place its errors become imgflow errors.

Nothing here runs at import: :func:`engine` applies the lockdown the first time a
caller needs libvips (and again only when the accept-list or thread count changes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyvips

from imgflow.errors import CorruptImage
from imgflow.processing import heap
from imgflow.processing.jpegscan import without_header_junk

#: the libvips loader class (and its file/buffer/source subclasses) for each accepted format
LOADER_CLASSES: dict[str, str] = {
    "jpeg": "VipsForeignLoadJpeg",
    "png": "VipsForeignLoadPng",
    "webp": "VipsForeignLoadWebp",
    "gif": "VipsForeignLoadNsgif",
    "avif": "VipsForeignLoadHeif",
    "tiff": "VipsForeignLoadTiff",
}

#: "error" is stricter than "truncated": it also stops libtiff's decoder errors (oss-fuzz crash files)
FAIL_ON = "error"
#: libjpeg reports a scan that ends early (a cut file with an end marker appended) or corrupt
#: entropy data as a *warning* and fills the rest with grey: for JPEG every warning is fatal
#: (junk between header segments is repaired by :mod:`.jpegscan`; junk before a restart marker is
#: tolerated: :class:`ScanJunk`)
FAIL_ON_FORMAT = {"jpeg": "warning"}
#: libjpeg's JWRN_EXTRANEOUS_DATA: bytes skipped before a marker. The picture is all there (what the
#: bytes meant is lost, not where the next interval starts); a cut scan is JWRN_HIT_MARKER or EOF
_JPEG_JUNK = "extraneous bytes before marker"


class ScanJunk(CorruptImage):
    """A strict JPEG decode stopped at junk bytes before a marker, and at nothing else: decode it again
    with :func:`load` ``(lenient=True)``, which still fails a truncated file."""


_lock = threading.Lock()
_state: dict[str, Any] = {"locked": False, "accept": None, "threads": None}


def engine(accept: tuple[str, ...], threads: int) -> None:
    """Lock libvips down: every loader blocked but the accepted ones, no untrusted operations,
    no operation cache, ``threads`` worker threads; and set the allocator for image work
    (:func:`.heap.tune`). Cheap after the first call."""
    loaders = tuple(sorted({LOADER_CLASSES[f] for f in accept if f in LOADER_CLASSES}))
    with _lock:
        if not _state["locked"]:
            pyvips.block_untrusted_set(True)
            pyvips.cache_set_max(0)
            pyvips.cache_set_max_mem(0)
            pyvips.cache_set_max_files(0)
            heap.tune()
            _state["locked"] = True
        if _state["accept"] != loaders:
            pyvips.operation_block_set("VipsForeignLoad", True)
            for name in loaders:
                pyvips.operation_block_set(name, False)
            _state["accept"] = loaders
        if _state["threads"] != threads:
            pyvips.concurrency_set(threads)
            _state["threads"] = threads


_LOADERS: dict[str, Callable[..., pyvips.Image]] = {
    "jpeg": pyvips.Image.jpegload_buffer,
    "png": pyvips.Image.pngload_buffer,
    "webp": pyvips.Image.webpload_buffer,
    "gif": pyvips.Image.gifload_buffer,
    "avif": pyvips.Image.heifload_buffer,
    "tiff": pyvips.Image.tiffload_buffer,
}


def load(data: bytes, fmt: str, *, lenient: bool = False, **options: Any) -> pyvips.Image:
    """Open ``data`` with the loader of its sniffed format only (never libvips' autodetect).

    Lazy: this reads the header; pixels are decoded when something asks for them. ``lenient``: a JPEG's
    warnings are not fatal, its truncation still is (the second decode after :class:`ScanJunk`).
    """
    if fmt == "jpeg":
        data = without_header_junk(data)
    fail_on = "truncated" if lenient else FAIL_ON_FORMAT.get(fmt, FAIL_ON)
    with vips_errors(fmt):
        return _LOADERS[fmt](data, fail_on=fail_on, **options)


_NOISE = ("source: bad seek", "unable to call", "unable to copy", "vips__", "load error")


def describe(exc: pyvips.Error) -> str:
    """The useful lines of a libvips error, short and on one line."""
    text = f"{getattr(exc, 'message', '')}\n{getattr(exc, 'detail', '') or ''}"
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip(":").strip()
        if not line or any(n in line for n in _NOISE) or line in lines:
            continue
        lines.append(line)
    return "; ".join(lines[:3])[:300] or "the decoder gave up"


@contextmanager
def vips_errors(fmt: str) -> Iterator[None]:
    """Turn a libvips error inside the block into :class:`CorruptImage`."""
    try:
        yield
    except pyvips.Error as exc:
        message = f"the {fmt} image is corrupt or truncated ({describe(exc)})"
        if fmt == "jpeg" and _only_junk(exc):
            raise ScanJunk(message) from None
        raise CorruptImage(message) from None


def _only_junk(exc: pyvips.Error) -> bool:
    """The libjpeg warnings in ``exc`` are all junk before a marker (libvips stops at the first)."""
    lines = [line for line in str(getattr(exc, "detail", "") or "").splitlines() if "VipsJpeg:" in line]
    return bool(lines) and all(_JPEG_JUNK in line for line in lines)
