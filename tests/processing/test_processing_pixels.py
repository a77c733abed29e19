"""What the pixels must look like: orientation, colour, alpha, bit depth, size rules, metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvips
from proc_helpers import array, decode, mad, run

from imgflow.errors import InputError
from imgflow.processing import process_image
from imgflow.recipes import Limits, Recipe, Rendition, default_recipe

PNG96 = Recipe(name="png96", renditions=(Rendition(name="t", width=96, height=96, format="png"),))
SAME_FEW = 5.0  # mean abs grey difference of the same picture after resampling/recompression
DIFFERENT = 30.0


def _one(path: Path, recipe: Recipe = PNG96, index: int = 0) -> pyvips.Image:
    return decode(run(path, recipe).renditions[index].data)


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
@pytest.mark.parametrize("n", range(1, 9))
def test_every_exif_orientation_comes_out_upright(corpus: Path, kind: str, n: int) -> None:
    reference = _one(corpus / f"edge/orientation/{kind}_0.jpg")
    result = run(corpus / f"edge/orientation/{kind}_{n}.jpg", PNG96)
    out = decode(result.renditions[0].data)
    assert result.facts.orientation == n
    assert (out.width, out.height) == (reference.width, reference.height)
    assert mad(reference, out) < SAME_FEW
    # the check can fail: a wrong turn or mirror is far away
    assert mad(reference, out.rot180()) > DIFFERENT
    assert mad(reference, out.fliphor()) > DIFFERENT


def test_webp_exif_orientation_is_applied(corpus: Path) -> None:
    upright = _one(corpus / "edge/jpeg/hopper.jpg")
    out = _one(corpus / "edge/orientation/hopper_orientation_6.webp")
    assert mad(upright, out) < SAME_FEW
    assert mad(upright, out.rot90()) > DIFFERENT


def test_rotation_6_jpeg_is_upright_before_resize(corpus: Path) -> None:
    facts = run(corpus / "edge/orientation/rotation_6.jpg").facts
    assert (facts.width, facts.height) == (308, 231)
    assert (facts.oriented_width, facts.oriented_height) == (231, 308)


def test_cmyk_jpeg_is_not_inverted(corpus: Path) -> None:
    cmyk = _one(corpus / "edge/jpeg/pil_sample_cmyk.jpg")
    rgb = _one(corpus / "edge/jpeg/pil_sample_rgb.jpg")
    assert mad(cmyk, rgb) < 40
    assert mad(cmyk.invert(), rgb) > 150
    red, green, blue = array(cmyk)[48, 20:76].astype(float).mean(axis=0)[:3]
    assert red > green + 40  # the word "RED" stays red
    assert red > blue + 40


def test_alpha_flattens_onto_the_background_for_jpeg_and_stays_for_png_webp(corpus: Path) -> None:
    recipe = Recipe(
        renditions=(
            Rendition(name="j", format="jpeg"),
            Rendition(name="p", format="png"),
            Rendition(name="w", format="webp", quality=90),
        ),
        background=(255, 255, 255),
    )
    source = array(decode((corpus / "edge/png/transparent.png").read_bytes()))
    clear = source[:, :, 3] == 0
    assert clear.any()
    jpeg, png, webp = (decode(r.data) for r in run(corpus / "edge/png/transparent.png", recipe).renditions)
    assert jpeg.bands == 3
    assert array(jpeg)[clear].mean() > 240  # white where it was transparent, not black
    for kept in (png, webp):
        assert kept.bands == 4
        assert array(kept)[:, :, 3][clear].max() < 16


def test_palette_transparency_is_not_black(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="j", format="jpeg"),), background=(255, 255, 255))
    source = array(decode((corpus / "edge/png/p_trns_single.png").read_bytes()))
    clear = source[:, :, 3] == 0
    out = array(decode(run(corpus / "edge/png/p_trns_single.png", recipe).renditions[0].data))
    assert out[clear].mean() > 200


@pytest.mark.parametrize("fit", ["contain", "cover", "attention"])
def test_one_pixel_gives_no_zero_pixel_output(corpus: Path, fit: str) -> None:
    recipe = Recipe(renditions=(Rendition(name="r", width=300, height=100, fit=fit, format="png"),))
    rendered = run(corpus / "edge/png/tRNS_null_1x1.png", recipe).renditions[0]
    assert (rendered.facts.width, rendered.facts.height) == (1, 1)


@pytest.mark.parametrize("name", ["edge/png/i_trns.png", "edge/png/apng_mode_16bit.png", "edge/tiff/16bit.cropped.tif"])
def test_sixteen_bit_is_scaled_by_its_full_range_not_clipped(corpus: Path, name: str) -> None:
    """8-bit = 16-bit / 257. (16bit.cropped.tif holds 291..694 of 65535: faithfully near-black,
    where a clipping cast would give all white.)"""
    path = corpus / name
    recipe = Recipe(renditions=(Rendition(name="t", format="png"),))
    out = array(decode(run(path, recipe).renditions[0].data)).astype(float)
    source = array(decode(path.read_bytes()).cast("float") / 257.0).astype(float)
    assert out.shape == source.shape
    colour = slice(0, 1 if out.shape[2] < 3 else 3)
    assert np.abs(out[:, :, colour] - source[:, :, colour]).mean() < 1.0
    assert out[:, :, colour].min() < 250  # not clipped to white


def test_portrait_photo_stays_portrait_with_the_default_recipe(corpus: Path) -> None:
    result = run(corpus / "photos/Wine_by_Jakkub_Mede.jpg", default_recipe())
    assert [(r.facts.name, r.facts.format) for r in result.renditions] == [
        (r.name, r.format) for r in default_recipe().renditions
    ]
    for rendered in result.renditions:
        w, h = rendered.facts.width, rendered.facts.height
        assert h > w
        assert abs(w - h * 2560 / 3837) <= 1
        assert h == {"large": 2048, "medium": 1024, "thumb": 256}[rendered.facts.name]


def test_gps_is_summarised_never_written(corpus: Path) -> None:
    result = run(corpus / "photos/ColorfulCups_2560x1600.jpg", default_recipe())
    exif = result.facts.exif
    assert (exif.make, exif.model, exif.had_gps) == ("SONY", "NEX-3N", True)
    assert exif.taken_at is not None
    assert exif.taken_at.startswith("2014:04:29")
    assert result.facts.has_icc
    for rendered in result.renditions:
        fields = decode(rendered.data).get_fields()
        assert not [f for f in fields if "exif" in f or "xmp" in f or "iptc" in f], fields
        assert b"GPS" not in rendered.data
        assert b"NEX-3N" not in rendered.data


def test_keep_icc_keeps_the_profile_and_nothing_else(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="i", width=64, height=64, keep="icc"),))
    fields = decode(run(corpus / "photos/ColorfulCups_2560x1600.jpg", recipe).renditions[0].data).get_fields()
    assert "icc-profile-data" in fields
    assert not [f for f in fields if "exif" in f]


def test_gif_animation_is_kept_for_webp_when_asked(corpus: Path) -> None:
    recipe = Recipe(
        renditions=(
            Rendition(name="anim", width=160, height=160, format="webp", animation="keep"),
            Rendition(name="still", width=160, height=160, format="webp"),
            Rendition(name="crop", width=50, height=50, fit="cover", format="webp", animation="keep"),
        )
    )
    anim, still, crop = run(corpus / "edge/gif/chi.gif", recipe).renditions
    assert (anim.facts.frames, still.facts.frames, crop.facts.frames) == (31, 1, 31)
    image = pyvips.Image.webpload_buffer(anim.data, n=-1)
    source = pyvips.Image.gifload(str(corpus / "edge/gif/chi.gif"), n=-1)
    # libwebp merges identical consecutive frames, adding up their delays
    assert 1 < image.get("n-pages") <= 31
    assert sum(image.get("delay")) == sum(source.get("delay"))
    assert (image.width, image.get_page_height()) == (160, 120)
    assert (decode(crop.data).width, decode(crop.data).get_page_height()) == (50, 50)


def test_heic_decodes_like_its_jpeg_twin(corpus: Path) -> None:
    assert mad(_one(corpus / "edge/heif-avif/hopper.heif"), _one(corpus / "edge/jpeg/hopper.jpg")) < SAME_FEW


def test_avif_in_and_out(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="a", width=64, height=64, format="avif", effort=2),))
    rendered = run(corpus / "edge/heif-avif/hopper.avif", recipe).renditions[0]
    assert rendered.facts.content_type == "image/avif"
    assert mad(decode(rendered.data), _one(corpus / "edge/jpeg/hopper.jpg")) < SAME_FEW * 2


def _outcome(data: bytes, recipe: Recipe) -> str:
    try:
        process_image(data, recipe, Limits())
    except InputError as exc:
        return exc.code
    return "ok"


def test_cut_files_fail_with_named_errors_only(corpus: Path) -> None:
    """Never a bare libvips error: every cut of a good file either processes or fails with a name."""
    recipe = Recipe(renditions=(Rendition(name="t", width=32, height=32),))
    for name in ("edge/jpeg/hopper.jpg", "photos/coffee.png", "edge/webp/hopper.webp", "edge/gif/chi.gif"):
        data = (corpus / name).read_bytes()
        for cut in (1, 8, 40, len(data) // 3, len(data) - 100):
            assert _outcome(data[:cut], recipe) in {"ok", "corrupt_image", "unsupported_type"}
