"""What processing learns about an image and what it made: plain, JSON-able data.

Kept apart from :mod:`imgflow.processing` so that the API and catalogs can use
these types without importing an image library.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ExifSummary(_Frozen):
    """A safe subset of EXIF: strings capped at 256 characters, control characters stripped, never GPS."""

    make: str | None = None
    model: str | None = None
    taken_at: str | None = None
    lens: str | None = None
    software: str | None = None
    copyright: str | None = None
    had_gps: bool = False


class ImageFacts(_Frozen):
    sha256: str
    format: str
    content_type: str
    bytes: int
    #: as stored in the file
    width: int
    height: int
    #: after EXIF/container orientation is applied
    oriented_width: int
    oriented_height: int
    orientation: int = 1
    frames: int = 1
    bands: int = 3
    has_alpha: bool = False
    has_icc: bool = False
    interpretation: str | None = None
    exif: ExifSummary = ExifSummary()
    blurhash: str | None = None


class RenditionFacts(_Frozen):
    name: str
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    bytes: int
    frames: int = 1


class Rendered(_Frozen):
    """One encoded rendition, in memory."""

    facts: RenditionFacts
    data: bytes


class ProcessResult(_Frozen):
    facts: ImageFacts
    renditions: tuple[Rendered, ...]
