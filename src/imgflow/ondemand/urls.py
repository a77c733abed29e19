"""The ``/t/{signature}/{options}/{image_id}/{generation}`` path: parse it, check it, make it.

Path only (CloudFront caches on the path and forwards no query string outside its key). The
signature covers the options, the image and the generation; ``_`` instead of a signature is
allowed for a public preset (``/t/_/p_thumb/{id}/{generation}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imgflow.errors import BadSignature, BadTransform, NotFound
from imgflow.ondemand.config import OnDemandSettings
from imgflow.ondemand.options import Transform, parse_options, preset_name, serialize
from imgflow.ondemand.signing import UNSIGNED, Signer

PREFIX = "/t/"
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$")
_GENERATION = re.compile(r"^[1-9][0-9]{0,8}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class TransformUrl:
    signature: str
    #: the options segment as written (``p_thumb`` for a preset)
    options: str
    transform: Transform
    image_id: str
    generation: int
    preset: str | None = None

    @property
    def path(self) -> str:
        return f"{PREFIX}{self.signature}/{self.options}/{self.image_id}/{self.generation}"


def split_path(path: str) -> tuple[str, str, str, str]:
    """The four segments, or NotFound when ``path`` is not shaped like a transform URL."""
    if not path.startswith(PREFIX):
        raise NotFound("not a transform URL")
    parts = path[len(PREFIX) :].split("/")
    if len(parts) != 4 or not _SIGNATURE.match(parts[0]) or not _ID.match(parts[2]) or not _GENERATION.match(parts[3]):
        raise NotFound("a transform URL is /t/{signature}/{options}/{image_id}/{generation}")
    return parts[0], parts[1], parts[2], parts[3]


def parse_url(path: str, settings: OnDemandSettings, signer: Signer) -> TransformUrl:
    """Shape (404), signature (403), then options and limits (400): the signature is checked
    before the options are judged, so an unsigned URL learns nothing about the limits."""
    signature, options, image_id, generation_text = split_path(path)
    generation = int(generation_text)
    preset = preset_name(options)
    if preset is not None and preset not in settings.presets:
        # a signed URL for a preset that was removed: the same 403 as any bad URL when unsigned
        if signature == UNSIGNED:
            raise BadSignature("no such public preset")
        raise BadTransform(f"no preset named {preset!r}")
    if signature == UNSIGNED:
        if preset is None or preset not in settings.public_presets:
            raise BadSignature("this URL needs a signature (only public presets are served unsigned)")
    else:
        signer.verify(signature, options, image_id, generation)
    transform = parse_options(settings.presets[preset] if preset is not None else options)
    check_limits(transform, settings, grid=preset is None)
    return TransformUrl(signature, options, transform, image_id, generation, preset)


def check_limits(t: Transform, settings: OnDemandSettings, *, grid: bool = True) -> None:
    """The settings' limits: sizes on the grid (presets are the operator's own: off the grid
    is allowed), the largest output, the allowed dprs, upscaling only when allowed."""
    if t.dpr not in settings.dprs:
        raise BadTransform(f"dpr must be one of {', '.join(f'{d:g}' for d in settings.dprs)}")
    pw, ph = t.pixel_width, t.pixel_height
    if (pw or 0) > settings.max_width or (ph or 0) > settings.max_height:
        raise BadTransform(f"the output may be at most {settings.max_width}x{settings.max_height} device pixels")
    if t.upscale and not settings.allow_upscale:
        raise BadTransform("upscaling (up_1) is not allowed by this server")
    if grid:
        for name, value in (("w", t.width), ("h", t.height)):
            if value is not None and not settings.allowed_size(value):
                allowed = (
                    f"multiples of {settings.size_step}"
                    if settings.size_step
                    else ", ".join(str(w) for w in settings.widths)
                )
                raise BadTransform(f"{name}_{value} is not an allowed size ({allowed})")


def sign_path(signer: Signer, options: str, image_id: str, generation: int) -> str:
    return f"{PREFIX}{signer.sign(options, image_id, generation)}/{options}/{image_id}/{generation}"


def make_path(
    signer: Signer,
    settings: OnDemandSettings,
    t: Transform,
    image_id: str,
    generation: int,
    *,
    round_sizes: bool = True,
) -> str:
    """A signed path for ``t`` (sizes rounded up to the grid first); BadTransform past the limits."""
    if round_sizes:
        t = Transform(
            width=settings.round_size(t.width) if t.width is not None else None,
            height=settings.round_size(t.height) if t.height is not None else None,
            fit=t.fit,
            gravity=t.gravity,
            format=t.format,
            quality=t.quality,
            dpr=t.dpr,
            upscale=t.upscale,
        )
    check_limits(t, settings)
    return sign_path(signer, serialize(t), image_id, generation)


def moved_path(url: TransformUrl, signer: Signer, generation: int) -> str:
    """The same transform for another generation (a redirect's target)."""
    if url.signature == UNSIGNED:
        return f"{PREFIX}{UNSIGNED}/{url.options}/{url.image_id}/{generation}"
    return sign_path(signer, url.options, url.image_id, generation)
