"""A safe EXIF summary: a few camera strings, capped and cleaned; GPS only as "it had some".

Parsing uses Pillow's EXIF reader on the raw APP1/EXIF block (no image decode).
Bad EXIF gives a partial or empty summary, never an error.
"""

from __future__ import annotations

import contextlib
import warnings

from imgflow.facts import ExifSummary

_MAX = 256
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_IFD0 = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "copyright": 0x8298}
_TAKEN_AT = (0x9003, 0x9004)  # DateTimeOriginal, DateTimeDigitized (Exif IFD)
_LENS = 0xA434  # LensModel (Exif IFD)
_DATETIME = 0x0132
#: the only EXIF fields ``keep: icc+copyright`` carries into an output: IFD0 tag -> libvips field suffix
CREDIT_TAGS = {0x8298: "Copyright", 0x013B: "Artist"}

Credits = tuple[tuple[str, str], ...]


def clean(value: object) -> str | None:
    """Text from an EXIF value: decoded, control characters dropped, trimmed, 256 characters at most."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    # EXIF says ASCII, cameras and editors write UTF-8, Pillow reads it as Latin-1: undo that
    with contextlib.suppress(UnicodeError):
        value = value.encode("latin-1").decode("utf-8")
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:_MAX] or None


def summarise(blob: bytes | None) -> ExifSummary:
    if not blob:
        return ExifSummary()
    from PIL import Image

    found: dict[str, str | None] = {}
    had_gps = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exif = Image.Exif()
            exif.load(blob)
            for key, tag in _IFD0.items():
                found[key] = clean(exif.get(tag))
            had_gps = _GPS_IFD in exif
            with contextlib.suppress(Exception):  # an unreadable GPS IFD still means the file carried one
                had_gps = had_gps and bool(exif.get_ifd(_GPS_IFD))
            sub = exif.get_ifd(_EXIF_IFD)
            taken = [clean(sub.get(tag)) for tag in _TAKEN_AT] + [clean(exif.get(_DATETIME))]
            found["taken_at"] = next((t for t in taken if t), None)
            found["lens"] = clean(sub.get(_LENS))
        except Exception:  # corrupt EXIF: keep what was read before the damage
            pass
    return ExifSummary(had_gps=had_gps, **found)


def credits(blob: bytes | None) -> Credits:
    """The image's IFD0 Copyright and Artist as ``(field, cleaned text)`` pairs; nothing else is read.

    Bad EXIF gives what could be read, never an error."""
    if not blob:
        return ()
    from PIL import Image

    found: list[tuple[str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exif = Image.Exif()
            exif.load(blob)
            for tag, name in CREDIT_TAGS.items():
                text = clean(exif.get(tag))
                if text:
                    found.append((name, text))
        except Exception:  # corrupt EXIF: keep what was read before the damage
            pass
    return tuple(found)
