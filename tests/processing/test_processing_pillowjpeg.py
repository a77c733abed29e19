"""Small JPEGs through Pillow's libjpeg-turbo 3: byte for byte libvips' own output, taken only for
the pictures it can write that way, and the rest (large, metadata, alpha, 16-bit) left to libvips;
the pixels the render path hands over (:class:`imgflow.processing.colour.Held`) are the image's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from imgflow.processing import colour, encode, libwebp, pillowjpeg, process_image
from imgflow.recipes import Limits, Recipe, Rendition, Watermark, default_recipe

NONE = pyvips.enums.ForeignKeep.NONE
KLEIBER = "photos/Kleiber_by_Lukas_Baubkus.jpg"
TRANSPARENT = "edge/png/transparent.png"


@pytest.fixture
def libvips_only() -> Iterator[None]:
    pillowjpeg.enabled = libwebp.enabled = False
    try:
        yield
    finally:
        pillowjpeg.enabled = libwebp.enabled = True


def _photo(corpus: Path, width: int = 640) -> pyvips.Image:
    return pyvips.Image.thumbnail(str(corpus / KLEIBER), width).copy_memory()


def _libvips(image: pyvips.Image, quality: int, optimize: bool) -> bytes:
    return bytes(image.jpegsave_buffer(Q=quality, keep=NONE, optimize_coding=optimize, subsample_mode="auto"))


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("quality", [1, 24, 82, 89, 90, 100])
@pytest.mark.parametrize("grey", [False, True])
def test_a_picture_encodes_to_libvips_bytes(corpus: Path, quality: int, optimize: bool, grey: bool) -> None:
    """Quality 89/90 is libvips' switch to full-resolution chroma; 1 and 24 the tables that
    only baseline clamping keeps within 8 bits."""
    image = _photo(corpus)
    if grey:
        image = image.colourspace("b-w")
    fast = pillowjpeg.encode(image, quality, optimize)
    assert fast is not None
    assert fast[:2] == b"\xff\xd8"
    assert b"JFIF" not in fast[:32]
    assert fast == _libvips(image, quality, optimize)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (333, 1), (1, 301), (17, 9), (1024, 1024)])
def test_odd_and_largest_sides_encode_to_libvips_bytes(width: int, height: int) -> None:
    """Odd sides (the chroma planes' edges), single rows, and exactly MAX_PIXELS."""
    noise = pyvips.Image.gaussnoise(width, height, mean=128, sigma=40)
    image = noise.bandjoin([noise.rot180() if width == height else noise, noise]).cast("uchar")
    image = image.copy(interpretation="srgb").copy_memory()
    fast = pillowjpeg.encode(image, 82, True)
    assert fast is not None
    assert fast == _libvips(image, 82, True)


@pytest.mark.parametrize(
    "shape", ["over MAX_PIXELS", "alpha", "grey+alpha", "16-bit", "cmyk-like", "one band labelled srgb", "animated"]
)
def test_pictures_it_does_not_take_go_to_libvips(corpus: Path, shape: str) -> None:
    photo = _photo(corpus, 64)
    image = {
        "over MAX_PIXELS": lambda: pyvips.Image.black(1025, 1024, bands=3).copy(interpretation="srgb"),
        "alpha": lambda: photo.bandjoin(255),
        "grey+alpha": lambda: photo.colourspace("b-w").bandjoin(255),
        "16-bit": lambda: photo.colourspace("rgb16"),
        "cmyk-like": lambda: photo.bandjoin([0]).copy(interpretation="cmyk"),
        "one band labelled srgb": lambda: photo.extract_band(0).copy(interpretation="srgb"),
        "animated": lambda: pyvips.Image.arrayjoin([photo, photo], across=1).copy(),
    }[shape]()
    if shape == "animated":
        image.set_type(pyvips.GValue.gint_type, "page-height", photo.height)
    assert not pillowjpeg.takes(image)
    assert pillowjpeg.encode(image, 82, True) is None


def test_with_the_path_off_the_encoder_is_libvips(corpus: Path, libvips_only: None) -> None:
    assert pillowjpeg.encode(_photo(corpus), 82, True) is None


def test_the_render_path_takes_it_for_small_bare_jpegs(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default recipe's 1024 and 256 px JPEGs come here; the 2048 px one stays with libvips."""
    sizes: list[tuple[int, int]] = []
    real = pillowjpeg.encode

    def spy(image: pyvips.Image, quality: int, optimize: bool, pixels: memoryview | None = None) -> bytes | None:
        out = real(image, quality, optimize, pixels)
        if out is not None:
            sizes.append((image.width, image.height))
        return out

    monkeypatch.setattr(pillowjpeg, "encode", spy)
    result = process_image((corpus / KLEIBER).read_bytes(), default_recipe(), Limits())
    jpegs = {(r.facts.width, r.facts.height) for r in result.renditions if r.facts.format == "jpeg"}
    assert sorted(sizes) == sorted(s for s in jpegs if s[0] * s[1] <= pillowjpeg.MAX_PIXELS)
    assert len(sizes) == 2


def _recipe() -> Recipe:
    """Every way a rendition's pixels can differ from its scaled intermediate's: cropped, stamped,
    flattened (alpha into JPEG), and given metadata; next to plain ones of the same sizes."""
    mark = Watermark(text="imgflow", position="bottom-right", opacity=0.6)
    return Recipe(
        name="every-shape",
        renditions=(
            Rendition(name="plain-jpeg", width=640, height=640, format="jpeg"),
            Rendition(name="plain-webp", width=640, height=640, format="webp"),
            Rendition(name="crop", width=300, height=300, fit="cover", format="jpeg"),
            Rendition(name="crop-webp", width=300, height=300, fit="cover", format="webp"),
            Rendition(name="stamped", width=640, height=640, format="jpeg", watermark=mark),
            Rendition(name="stamped-webp", width=640, height=640, format="webp", watermark=mark),
            Rendition(name="icc", width=640, height=640, format="jpeg", keep="icc"),
            Rendition(name="small", width=100, height=100, format="jpeg"),
        ),
    )


@pytest.mark.parametrize("source", [KLEIBER, TRANSPARENT, "photos/ColorfulCups_2560x1600.jpg"])
def test_every_rendition_is_the_file_libvips_alone_writes(corpus: Path, source: str) -> None:
    """With the fast encoders and the held pixels on, each output is byte for byte what libvips
    alone writes: a crop, a watermark or a flatten is never encoded from the uncut pixels."""
    data = (corpus / source).read_bytes()
    fast = process_image(data, _recipe(), Limits(threads=2))
    pillowjpeg.enabled = libwebp.enabled = False
    try:
        reference = process_image(data, _recipe(), Limits(threads=2))
    finally:
        pillowjpeg.enabled = libwebp.enabled = True
    assert [r.facts for r in fast.renditions] == [r.facts for r in reference.renditions]
    for ours, theirs in zip(fast.renditions, reference.renditions, strict=True):
        assert ours.data == theirs.data, ours.facts.name


def test_a_held_image_is_what_copy_memory_makes_with_its_pixels(corpus: Path) -> None:
    lazy = pyvips.Image.new_from_file(str(corpus / "photos/ColorfulCups_2560x1600.jpg"), shrink=8)
    lazy = lazy.icc_transform("srgb", embedded=True, input_profile="srgb")
    copied = lazy.copy_memory()
    held = colour.hold(lazy)
    fields = copied.get_fields()
    assert "icc-profile-data" in fields
    assert held.image.get_fields() == fields
    for name in fields:
        if name != "filename":
            assert held.image.get(name) == copied.get(name), name
    assert held.block.nbytes == copied.width * copied.height * copied.bands
    assert bytes(held.block) == bytes(copied.write_to_memory())
    assert (held.image - copied).abs().max() == 0


def test_an_encoder_given_other_pixels_is_not_handed_them(corpus: Path) -> None:
    """encode() passes the block on only for the very image it describes: flattened pixels
    (alpha into JPEG) are not the block's."""
    held = colour.hold(pyvips.Image.new_from_file(str(corpus / TRANSPARENT)).copy_memory())
    assert held.image.hasalpha()
    from imgflow.processing.plan import plan
    from imgflow.processing.probe import inspect

    data = (corpus / TRANSPARENT).read_bytes()
    recipe = Recipe(name="j", renditions=(Rendition(name="j", width=4096, height=4096, format="jpeg"),))
    step = plan(inspect(data, Limits()).facts, recipe).steps[0]
    flattened = encode.flatten(held.image, (255, 255, 255))
    assert encode.encode(held.image, step, (255, 255, 255), held=held) == _libvips(flattened, 82, True)
