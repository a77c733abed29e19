"""The pure decision: format negotiation, geometry, source choice, redirects, refusals by status."""

from __future__ import annotations

from typing import Any

import pytest

from imgflow.adapters.memory import MemoryCatalog
from imgflow.errors import NotFound, NotReady
from imgflow.facts import ImageFacts
from imgflow.ondemand import OnDemandSettings, Redirect, Render, Signer, Transform, parse_url
from imgflow.ondemand.geometry import crop_origin, geometry
from imgflow.ondemand.negotiate import choose_format, token_from_accept, token_of
from imgflow.ondemand.resolve import choose_source, resolve
from imgflow.ondemand.urls import sign_path
from imgflow.recipes import Recipe, Rendition, Watermark, default_recipe
from imgflow.records import ImageRecord, StoredRendition

SIGNER = Signer([b"k" * 32])
SETTINGS = OnDemandSettings()
ID = "01HZX3M8Q7V4N6J2K9T5R0W1YC"


@pytest.mark.parametrize(
    ("accept", "token"),
    [
        (None, "jpeg"),
        ("", "jpeg"),
        ("*/*", "jpeg"),
        ("image/*", "jpeg"),
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "avif"),
        ("image/webp,*/*", "webp"),
        ("image/avif;q=0,image/webp;q=0.5", "webp"),
        ("IMAGE/AVIF", "avif"),
        ("image/avif;q=zz,image/webp", "webp"),
        ("text/html,image/png", "jpeg"),
    ],
)
def test_token_from_accept(accept: str | None, token: str) -> None:
    assert token_from_accept(accept) == token


def test_a_cdn_token_is_trusted_only_when_known() -> None:
    assert token_of("webp", "image/avif") == "webp"
    assert token_of("gif", "image/avif") == "avif"


@pytest.mark.parametrize(
    ("requested", "token", "alpha", "out"),
    [("auto", "avif", False, "avif"), ("auto", "webp", True, "webp"), ("auto", "jpeg", False, "jpeg"),
     ("auto", "jpeg", True, "png"), ("jpeg", "avif", True, "jpeg"), ("png", "jpeg", False, "png")],
)  # fmt: skip
def test_choose_format(requested: str, token: Any, alpha: bool, out: str) -> None:
    assert choose_format(requested, token, alpha) == out


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (Transform(width=400), (400, 300, 400, 300)),
        (Transform(height=300), (400, 300, 400, 300)),
        (Transform(width=400, height=100), (133, 100, 133, 100)),
        (Transform(width=400, dpr=2.0), (800, 600, 800, 600)),
        (Transform(width=4000), (1600, 1200, 1600, 1200)),  # never enlarged
        (Transform(width=3200, upscale=True), (3200, 2400, 3200, 2400)),
        (Transform(width=400, height=400, fit="cover"), (533, 400, 400, 400)),
        (Transform(width=2000, height=2000, fit="cover"), (1600, 1200, 1600, 1200)),  # clipped to the image
    ],
)
def test_geometry(t: Transform, expected: tuple[int, int, int, int]) -> None:
    g = geometry(1600, 1200, t)
    assert (g.resize_width, g.resize_height, g.width, g.height) == expected


def test_crop_origin_by_gravity() -> None:
    assert crop_origin(533, 400, 400, 400, "centre") == (66, 0)
    assert crop_origin(533, 400, 400, 400, "west") == (0, 0)
    assert crop_origin(533, 400, 400, 400, "east") == (133, 0)
    assert crop_origin(400, 533, 400, 400, "north") == (0, 0)
    assert crop_origin(400, 533, 400, 400, "southeast") == (0, 133)


def facts(width: int = 4000, height: int = 3000, alpha: bool = False) -> ImageFacts:
    return ImageFacts(
        sha256="0" * 64, format="png" if alpha else "jpeg", content_type="image/jpeg", bytes=1, width=width,
        height=height, oriented_width=width, oriented_height=height, has_alpha=alpha,
    )  # fmt: skip


def stored(name: str, fmt: str, width: int, height: int, generation: int = 1) -> StoredRendition:
    ext = "jpg" if fmt == "jpeg" else fmt
    return StoredRendition(name=name, key=f"renditions/{ID}/{generation}/{name}.{ext}", format=fmt,
                           content_type=f"image/{fmt}", width=width, height=height, bytes=1)  # fmt: skip


def record(status: str = "done", generation: int = 1, **kw: Any) -> ImageRecord:
    values: dict[str, Any] = {
        "image_id": ID, "owner": "o", "status": status, "created_at": 1.0, "updated_at": 1.0,
        "generation": generation, "facts": facts(),
        "renditions": (stored("large", "jpeg", 2048, 1536, generation), stored("large", "webp", 2048, 1536, generation),
                       stored("thumb", "jpeg", 256, 192, generation)),
    }  # fmt: skip
    values.update(kw)
    return ImageRecord(**values)


def test_source_is_the_largest_full_rendition_big_enough() -> None:
    rec, recipe = record(), default_recipe()
    assert choose_source(rec, recipe, 400, 300).startswith(f"renditions/{ID}/1/large.")
    assert choose_source(rec, recipe, 2048, 1536).startswith(f"renditions/{ID}/1/large.")
    assert choose_source(rec, recipe, 2049, 1537) == f"originals/{ID}"
    assert choose_source(rec, None, 400, 300) == f"originals/{ID}"  # recipe unknown: cannot tell
    assert choose_source(rec, recipe, 200, 150).startswith(f"renditions/{ID}/1/large.")


def test_source_skips_cropped_watermarked_and_flattened_renditions() -> None:
    recipe = Recipe(renditions=(
        Rendition(name="sq", width=2048, height=2048, fit="cover", format="webp"),
        Rendition(name="wm", width=2048, height=2048, format="webp", watermark=Watermark(text="x")),
        Rendition(name="flat", width=2048, height=2048, format="jpeg"),
        Rendition(name="small", width=1024, height=1024, format="webp"),
    ))  # fmt: skip
    rec = record(
        facts=facts(alpha=True),
        renditions=(stored("sq", "webp", 2048, 2048), stored("wm", "webp", 2048, 1536),
                    stored("flat", "jpeg", 2048, 1536), stored("small", "webp", 1024, 768)),
    )  # fmt: skip
    assert choose_source(rec, recipe, 400, 300) == f"renditions/{ID}/1/small.webp"
    assert choose_source(rec, recipe, 1100, 800) == f"originals/{ID}"


def _resolve(catalog: MemoryCatalog, path: str, token: Any = "webp") -> Render | Redirect:
    url = parse_url(path, SETTINGS, SIGNER)
    return resolve(url, token, catalog=catalog, recipes={"default": default_recipe()}, signer=SIGNER,
                   default_quality=80)  # fmt: skip


def test_resolve_by_status_and_generation() -> None:
    catalog = MemoryCatalog()
    catalog.create(record(generation=2))
    job = _resolve(catalog, sign_path(SIGNER, "w_400", ID, 2))
    assert isinstance(job, Render)
    assert (job.job.format, job.job.width, job.job.height, job.negotiated) == ("webp", 400, 300, True)
    assert job.job.etag.startswith('"')
    assert job.job.source_key.startswith(f"renditions/{ID}/2/large")
    jpeg = _resolve(catalog, sign_path(SIGNER, "w_400", ID, 2), "jpeg")
    assert isinstance(jpeg, Render)
    assert jpeg.job.cache_key != job.job.cache_key
    fixed = _resolve(catalog, sign_path(SIGNER, "w_400,f_webp", ID, 2))
    assert isinstance(fixed, Render)
    assert not fixed.negotiated

    moved = _resolve(catalog, sign_path(SIGNER, "w_400", ID, 1))
    assert moved == Redirect(sign_path(SIGNER, "w_400", ID, 2))
    with pytest.raises(NotFound):
        _resolve(catalog, sign_path(SIGNER, "w_400", ID, 3))
    with pytest.raises(NotFound):
        _resolve(catalog, sign_path(SIGNER, "w_400", "01HZX3M8Q7V4N6J2K9T5R0W1YD", 1))


@pytest.mark.parametrize("status", ["deleted", "failed", "awaiting_upload"])
def test_gone_or_never_done_is_not_found(status: str) -> None:
    catalog = MemoryCatalog()
    catalog.create(record(status=status, facts=None if status != "failed" else facts()))
    with pytest.raises(NotFound):
        _resolve(catalog, sign_path(SIGNER, "w_400", ID, 1))


def test_while_reprocessing_old_urls_are_cached_only_and_new_ones_not_ready() -> None:
    catalog = MemoryCatalog()
    catalog.create(record(status="queued", generation=2))
    old = _resolve(catalog, sign_path(SIGNER, "w_400", ID, 1))
    assert isinstance(old, Render)
    assert old.cached_only
    with pytest.raises(NotReady):
        _resolve(catalog, sign_path(SIGNER, "w_400", ID, 2))
