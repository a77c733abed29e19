"""Lossy WebP through Pillow's libwebp: found, used, byte for byte libvips' own output, and
libvips' encoder for every picture the fast path does not take."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips
from PIL import features

from imgflow.processing import libwebp, process_image
from imgflow.recipes import Limits, Recipe, Rendition, default_recipe

NONE = pyvips.enums.ForeignKeep.NONE
KLEIBER = "photos/Kleiber_by_Lukas_Baubkus.jpg"
TRANSPARENT = "edge/png/transparent.png"


@pytest.fixture
def libvips_only() -> Iterator[None]:
    libwebp.enabled = False
    try:
        yield
    finally:
        libwebp.enabled = True


def _photo(corpus: Path, width: int = 640) -> pyvips.Image:
    return pyvips.Image.thumbnail(str(corpus / KLEIBER), width).copy_memory()


def test_pillows_libwebp_is_found_and_loaded() -> None:
    """The wheel install (`make setup`) has it: without it every WebP would silently cost more."""
    assert libwebp.library_path() is not None
    assert libwebp.version() == features.version("webp")


def test_the_declared_structs_match_the_library() -> None:
    """libwebp fills a default config: every field lands where the declaration says (a shifted
    field would put these values elsewhere)."""
    lib = libwebp._library()
    assert lib is not None
    config = libwebp.WebPConfig()
    assert lib.WebPConfigInitInternal(config, 0, 75.0, libwebp.ABI)
    defaults = {"quality": 75.0, "method": 4, "segments": 4, "sns_strength": 50, "filter_strength": 60,
                "filter_type": 1, "alpha_compression": 1, "alpha_filtering": 1, "alpha_quality": 100,
                "pass": 1, "partition_limit": 0, "near_lossless": 100, "qmin": 0, "qmax": 100}  # fmt: skip
    assert {name: getattr(config, name) for name in defaults} == defaults
    picture = libwebp.WebPPicture(width=7, a_stride=9, pad7=(1, 2))
    assert lib.WebPPictureInitInternal(picture, libwebp.ABI)  # zeroes the whole struct
    assert (picture.width, picture.a_stride, tuple(picture.pad7)) == (0, 0, (None, None))


@pytest.mark.parametrize(("quality", "method"), [(80, 4), (50, 0), (95, 6), (1, 2), (100, 4)])
def test_an_rgb_picture_encodes_to_libvips_bytes(corpus: Path, quality: int, method: int) -> None:
    image = _photo(corpus)
    fast = libwebp.encode(image, quality, method)
    assert fast is not None
    assert fast[:4] == b"RIFF"
    assert fast[8:12] == b"WEBP"
    assert fast == image.webpsave_buffer(Q=quality, effort=method, keep=NONE)


def test_an_rgba_picture_keeps_its_alpha_as_libvips_does(corpus: Path) -> None:
    image = pyvips.Image.new_from_file(str(corpus / TRANSPARENT)).copy_memory()
    assert image.bands == 4
    fast = libwebp.encode(image, 80, 4)
    assert fast is not None
    assert b"ALPH" in fast
    assert fast == image.webpsave_buffer(Q=80, effort=4, keep=NONE)


@pytest.mark.parametrize(("width", "height", "alpha"), [(333, 1, False), (1, 1, False), (1, 1, True), (3, 301, True)])
def test_odd_sides_encode_to_libvips_bytes(corpus: Path, width: int, height: int, alpha: bool) -> None:
    """Odd widths, single rows and pixels: the chroma planes' rounding edges."""
    image = _photo(corpus).crop(0, 0, width, height)
    if alpha:
        image = image.bandjoin(image.extract_band(1))  # a real, uneven alpha
    fast = libwebp.encode(image, 80, 4)
    assert fast is not None
    assert fast == image.webpsave_buffer(Q=80, effort=4, keep=NONE)


@pytest.mark.parametrize(
    "shape",
    ["grey", "grey+alpha", "one band labelled srgb", "16-bit", "cmyk-like", "animated", "too wide"],
)
def test_pictures_it_does_not_take_go_to_libvips(corpus: Path, shape: str) -> None:
    photo = _photo(corpus, 64)
    image = {
        "grey": lambda: photo.colourspace("b-w"),
        "grey+alpha": lambda: photo.colourspace("b-w").bandjoin(255),
        "one band labelled srgb": lambda: photo.extract_band(0),
        "16-bit": lambda: photo.colourspace("rgb16"),
        "cmyk-like": lambda: photo.bandjoin([0]).copy(interpretation="cmyk"),
        "animated": lambda: pyvips.Image.arrayjoin([photo, photo], across=1).copy(),
        "too wide": lambda: pyvips.Image.black(libwebp.MAX_SIDE + 1, 2, bands=3).copy(interpretation="srgb"),
    }[shape]()
    if shape == "animated":
        image.set_type(pyvips.GValue.gint_type, "page-height", photo.height)
    if shape == "one band labelled srgb":
        assert image.interpretation == "srgb"
    assert not libwebp.takes(image)
    assert libwebp.encode(image, 80, 4) is None


def test_the_default_recipe_makes_the_same_files_either_way(corpus: Path, libvips_only: None) -> None:
    data = (corpus / KLEIBER).read_bytes()
    reference = process_image(data, default_recipe(), Limits(threads=2))
    libwebp.enabled = True
    fast = process_image(data, default_recipe(), Limits(threads=2))
    webps = [r for r in fast.renditions if r.facts.format == "webp"]
    assert len(webps) == 3
    assert [r.data for r in fast.renditions] == [r.data for r in reference.renditions]


def test_a_rendition_that_keeps_its_icc_profile_still_carries_it(corpus: Path) -> None:
    """Metadata chunks are libvips' (WebPMux): the fast path only takes keep: none."""
    recipe = Recipe(name="icc", renditions=(Rendition(name="w", width=200, height=200, format="webp", keep="icc"),))
    out = (
        process_image((corpus / "photos/ColorfulCups_2560x1600.jpg").read_bytes(), recipe, Limits()).renditions[0].data
    )
    assert b"ICCP" in out
    assert out[12:16] == b"VP8X"


def test_with_the_path_off_the_encoder_is_libvips(corpus: Path, libvips_only: None) -> None:
    assert libwebp.version() is None
    assert libwebp.encode(_photo(corpus), 80, 4) is None
