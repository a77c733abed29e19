"""Recipes and limits: what to make from an image, as validated data.

Part of the core: pure pydantic models, no I/O, no environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OutputFormat = Literal["jpeg", "png", "webp", "avif", "same"]
InputFormat = Literal["jpeg", "png", "webp", "gif", "avif", "heif", "tiff"]
Fit = Literal["contain", "cover", "attention"]
Position = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]
Rgb = tuple[
    Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)]
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Watermark(_Frozen):
    """Text or an image stamped on a rendition."""

    text: str | None = Field(default=None, max_length=200)
    #: PNG/JPEG/WebP bytes of a logo; settings load it from ``image_path``
    image: bytes | None = Field(default=None, repr=False)
    image_path: str | None = None
    position: Position = "bottom-right"
    #: margin from the edges, in output pixels
    margin: int = Field(default=16, ge=0, le=1000)
    opacity: float = Field(default=0.5, gt=0.0, le=1.0)
    #: text height as a share of the rendition's shorter edge
    size: float = Field(default=0.05, gt=0.0, le=0.5)
    color: Rgb = (255, 255, 255)

    @model_validator(mode="after")
    def _one_kind(self) -> Watermark:
        if not self.text and self.image is None and self.image_path is None:
            raise ValueError("a watermark needs `text` or `image_path`")
        return self


class Rendition(_Frozen):
    """One output of a recipe."""

    name: str
    #: bounding box; one may be omitted (scale by the other), both omitted keeps the size
    width: int | None = Field(default=None, ge=1, le=16384)
    height: int | None = Field(default=None, ge=1, le=16384)
    fit: Fit = "contain"
    format: OutputFormat = "jpeg"
    quality: int = Field(default=82, ge=1, le=100)
    #: encoder effort: WebP 0-6, AVIF 0-9, PNG compression 0-9; None = the format's default
    effort: int | None = Field(default=None, ge=0, le=9)
    upscale: bool = False
    #: "first": a still of frame one; "keep": keep frames when the output can animate (GIF in, WebP out)
    animation: Literal["first", "keep"] = "first"
    watermark: Watermark | None = None
    #: metadata carried into the output; GPS is never carried
    keep: Literal["none", "icc", "icc+copyright"] = "none"

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("rendition names are 1-63 of a-z 0-9 _ - and start with a letter or digit")
        return value

    @model_validator(mode="after")
    def _cover_needs_box(self) -> Rendition:
        if self.fit != "contain" and (self.width is None or self.height is None):
            raise ValueError(f"fit={self.fit!r} needs both width and height")
        return self


class Recipe(_Frozen):
    name: str = "default"
    renditions: tuple[Rendition, ...] = Field(max_length=16)
    #: background for flattening alpha onto formats without it (JPEG)
    background: Rgb = (255, 255, 255)

    @field_validator("renditions")
    @classmethod
    def _some(cls, value: tuple[Rendition, ...]) -> tuple[Rendition, ...]:
        # not min_length: a rendition that fails validation would also count as missing
        if not value:
            raise ValueError("a recipe needs at least one rendition")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Recipe:
        keys = [(r.name, r.format) for r in self.renditions]
        if len(set(keys)) != len(keys):
            raise ValueError("two renditions share a name and format")
        return self


class Limits(_Frozen):
    """Enforced before any full decode."""

    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    #: width x height x frames; 50 MP like imgproxy
    max_pixels: int = Field(default=50_000_000, ge=1)
    max_frames: int = Field(default=256, ge=1)
    max_dimension: int = Field(default=32768, ge=1)
    #: memory decoding may take, estimated from the headers: pixels x channels x the bytes the
    #: decoder holds per channel (bit depth, interlacing, AVIF/HEIC); see docs/processing.md
    max_decoded_bytes: int = Field(default=400_000_000, ge=1)
    accept: tuple[InputFormat, ...] = ("jpeg", "png", "webp", "gif", "avif", "heif", "tiff")
    #: libvips threads per job
    threads: int = Field(default=1, ge=1, le=64)


def _both(name: str, size: int) -> tuple[Rendition, Rendition]:
    return (
        Rendition(name=name, width=size, height=size, format="jpeg", quality=82),
        Rendition(name=name, width=size, height=size, format="webp", quality=80),
    )


def default_recipe() -> Recipe:
    """2048, 1024 and 256 px on the longest edge, contain, no upscale, JPEG q82 + WebP q80."""
    return Recipe(name="default", renditions=(*_both("large", 2048), *_both("medium", 1024), *_both("thumb", 256)))
