"""From a transform URL and the image's record to what to answer: a redirect, or a render job.

Pure policy over the ``Catalog`` port: both runtimes (the local server, the AWS transform
function) call :func:`resolve` and then serve the job from their cache or their renderer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from imgflow.errors import NotFound, NotReady
from imgflow.ondemand.geometry import geometry
from imgflow.ondemand.negotiate import Token, choose_format
from imgflow.ondemand.signing import Signer
from imgflow.ondemand.urls import TransformUrl, moved_path
from imgflow.ports import Catalog
from imgflow.recipes import Recipe, Rendition, Rgb
from imgflow.records import ImageRecord

#: bump when the renderer's output for the same inputs changes: the cache keys (and ETags) change with it
RENDER_VERSION = "1"
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}


@dataclass(frozen=True)
class RenderJob:
    """Everything a renderer needs, as plain data (it crosses a socket locally)."""

    image_id: str
    generation: int
    #: the stored object to decode (a rendition that is big enough, else the original)
    source_key: str
    resize_width: int
    resize_height: int
    width: int
    height: int
    gravity: str
    format: str
    quality: int
    background: Rgb
    #: the cache entry's name and the ETag (quoted): one per URL path and output format
    cache_key: str

    @property
    def etag(self) -> str:
        return f'"{self.cache_key[:32]}"'

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RenderJob:
        values = dict(data)
        values["background"] = tuple(values["background"])
        return cls(**values)


@dataclass(frozen=True)
class Render:
    job: RenderJob
    #: ``Vary: Accept`` (the format came from the request's Accept)
    negotiated: bool
    #: only a cached copy may answer (the image is being reprocessed): NotReady otherwise
    cached_only: bool = False


@dataclass(frozen=True)
class Redirect:
    location: str


def etag_matches(header: str | None, etag: str) -> bool:
    """An ``If-None-Match`` header names ``etag`` (weak or strong) or is ``*``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def cache_key(path: str, fmt: str) -> str:
    return hashlib.sha256(f"{RENDER_VERSION}|{path}|{fmt}".encode()).hexdigest()


def live_record(catalog: Catalog, image_id: str) -> ImageRecord:
    try:
        record = catalog.get(image_id)
    except NotFound:
        record = None
    if record is None or record.status in ("deleted", "awaiting_upload", "failed") or record.facts is None:
        raise NotFound(f"no processed image {image_id!r}")
    return record


def choose_source(record: ImageRecord, recipe: Recipe | None, need_w: int, need_h: int) -> str:
    """The largest stored rendition that is a full view (``contain``, no watermark, the original's
    aspect), keeps alpha when the image has it, and is at least ``need_w`` x ``need_h``; else the original."""
    facts = record.facts
    assert facts is not None
    ow, oh = facts.oriented_width, facts.oriented_height
    specs: dict[tuple[str, str], Rendition] = {(r.name, r.format): r for r in recipe.renditions} if recipe else {}
    best = None
    for stored in record.renditions:
        spec = specs.get((stored.name, stored.format))
        if spec is None or spec.fit != "contain" or spec.watermark is not None:
            continue
        if facts.has_alpha and stored.format == "jpeg":
            continue  # flattened onto the background
        if stored.width < need_w or stored.height < need_h:
            continue
        if abs(stored.width * oh - stored.height * ow) > max(ow, oh):  # not the whole picture
            continue
        if best is None or stored.width * stored.height > best.width * best.height:
            best = stored
    return best.key if best is not None else record.key


def resolve(
    url: TransformUrl,
    token: Token,
    *,
    catalog: Catalog,
    recipes: Mapping[str, Recipe],
    signer: Signer,
    default_quality: int,
) -> Render | Redirect:
    """NotFound (missing, deleted, failed, a generation that never was), a redirect (an earlier
    generation of a done image), else the job (``cached_only`` while the image is reprocessed)."""
    record = live_record(catalog, url.image_id)
    if url.generation > record.generation:
        raise NotFound(f"image {url.image_id!r} has no generation {url.generation}")
    done = record.status == "done"
    if done and url.generation < record.generation:
        return Redirect(moved_path(url, signer, record.generation))
    facts = record.facts
    assert facts is not None
    t = url.transform
    geo = geometry(facts.oriented_width, facts.oriented_height, t)
    fmt = choose_format(t.format, token, facts.has_alpha)
    recipe = recipes.get(record.recipe)
    job = RenderJob(
        image_id=url.image_id,
        generation=url.generation,
        source_key=choose_source(record, recipe, geo.resize_width, geo.resize_height),
        resize_width=geo.resize_width,
        resize_height=geo.resize_height,
        width=geo.width,
        height=geo.height,
        gravity=t.gravity,
        format=fmt,
        quality=t.quality or default_quality,
        background=recipe.background if recipe is not None else (255, 255, 255),
        cache_key=cache_key(url.path, fmt),
    )
    if not done and url.generation < record.generation:
        return Render(job, negotiated=t.format == "auto", cached_only=True)
    if not done:
        raise NotReady(f"image {url.image_id!r} is {record.status}")
    return Render(job, negotiated=t.format == "auto")
