"""Rendering a transform with the locked-down engine: sizes, formats, gravity, alpha, orientation, limits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgflow.errors import TooManyPixels, UnsupportedFormat
from imgflow.ondemand import Transform
from imgflow.ondemand.geometry import geometry
from imgflow.ondemand.resolve import RenderJob, cache_key
from imgflow.processing.transform import render_transform
from imgflow.recipes import Limits
from imgflow.sniff import sniff


def job_for(width: int, height: int, t: Transform, fmt: str, quality: int = 80) -> RenderJob:
    g = geometry(width, height, t)
    return RenderJob(
        image_id="x", generation=1, source_key="originals/x", resize_width=g.resize_width,
        resize_height=g.resize_height, width=g.width, height=g.height, gravity=t.gravity, format=fmt,
        quality=quality, background=(255, 255, 255), cache_key=cache_key("/t/x", fmt),
    )  # fmt: skip


def halves(width: int, height: int, mode: str = "RGB") -> bytes:
    """Top half red, bottom half blue (PNG)."""
    image = Image.new(mode, (width, height), (255, 0, 0, 255)[: len(mode)])
    image.paste((0, 0, 255, 255)[: len(mode)], (0, height // 2, width, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGBA"))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_sizes_and_formats(fmt: str) -> None:
    source = halves(600, 400)
    out = render_transform(source, job_for(600, 400, Transform(width=300), fmt), Limits())
    assert sniff(out) == fmt
    with Image.open(io.BytesIO(out)) as image:
        assert image.size == (300, 200)


@pytest.mark.parametrize(("gravity", "colour"), [("north", (255, 0, 0)), ("south", (0, 0, 255))])
def test_gravity_picks_the_edge(gravity: str, colour: tuple[int, int, int]) -> None:
    t = Transform(width=100, height=100, fit="cover", gravity=gravity)  # type: ignore[arg-type]
    out = render_transform(halves(200, 600), job_for(200, 600, t, "png"), Limits())
    arr = pixels(out)
    assert arr.shape[:2] == (100, 100)
    assert np.abs(arr[..., :3].reshape(-1, 3).mean(axis=0) - colour).max() < 8


def test_alpha_kept_in_png_and_flattened_in_jpeg() -> None:
    source = halves(200, 200, "RGBA")
    image = Image.open(io.BytesIO(source)).convert("RGBA")
    image.putalpha(Image.new("L", (200, 200), 0))  # transparent everywhere
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    png = render_transform(buf.getvalue(), job_for(200, 200, Transform(width=100), "png"), Limits())
    assert pixels(png)[..., 3].max() == 0
    jpeg = render_transform(buf.getvalue(), job_for(200, 200, Transform(width=100), "jpeg"), Limits())
    assert pixels(jpeg)[..., :3].min() > 240  # onto the white background


def test_orientation_applied(corpus: Path) -> None:
    path = corpus / "edge" / "orientation" / "Landscape_6.jpg"
    with Image.open(path) as image:
        stored_w, stored_h = image.size
    # orientation 6: stored portrait-shaped, upright landscape
    upright = (stored_h, stored_w)
    out = render_transform(path.read_bytes(), job_for(*upright, Transform(width=160), "jpeg"), Limits())
    with Image.open(io.BytesIO(out)) as image:
        assert image.size[0] == 160
        assert image.size[0] > image.size[1]


def test_source_limits_hold() -> None:
    with pytest.raises(TooManyPixels):
        render_transform(halves(600, 400), job_for(600, 400, Transform(width=300), "png"), Limits(max_pixels=1000))
    with pytest.raises(UnsupportedFormat):
        render_transform(halves(600, 400), job_for(600, 400, Transform(width=300), "png"), Limits(accept=("jpeg",)))


def test_a_12mp_photo_to_400px_webp(corpus: Path) -> None:
    path = corpus / "photos" / "Dragonfly_by_Bolly.jpg"
    with Image.open(path) as image:
        size = image.size
    out = render_transform(path.read_bytes(), job_for(*size, Transform(width=400), "webp"), Limits())
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "WEBP"
        assert image.size[0] == 400


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
@pytest.mark.parametrize(("fit", "gravity"), [("contain", "centre"), ("cover", "north"), ("cover", "attention")])
def test_a_transform_is_the_file_libvips_alone_writes(corpus: Path, fmt: str, fit: str, gravity: str) -> None:
    """The fast encoders (Pillow's libjpeg-turbo and libwebp) read the decoded pixels in place only
    when nothing was cut from them: a crop is encoded from the crop, byte for byte libvips' file."""
    from imgflow.processing import libwebp, pillowjpeg

    source = (corpus / "photos" / "ColorfulCups_2560x1600.jpg").read_bytes()
    job = job_for(2560, 1600, Transform(width=400, height=400, fit=fit, gravity=gravity), fmt)  # type: ignore[arg-type]
    fast = render_transform(source, job, Limits())
    pillowjpeg.enabled = libwebp.enabled = False
    try:
        reference = render_transform(source, job, Limits())
    finally:
        pillowjpeg.enabled = libwebp.enabled = True
    assert fast == reference
