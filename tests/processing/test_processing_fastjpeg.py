"""Progressive JPEGs through libjpeg-turbo 3 (simplejpeg): taken where they should be, the same
pixels, ICC profile, orientation and density as libvips' own decode, and every file the decoder
complains about left to libvips, which gives the same verdict in the same words as before."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from imgflow.errors import CorruptImage
from imgflow.processing import engine, fastjpeg, process_image
from imgflow.processing.plan import plan
from imgflow.processing.probe import inspect
from imgflow.recipes import Limits, default_recipe

render = importlib.import_module("imgflow.processing.render")

PROGRESSIVE = ("photos/Dragonfly_by_Bolly.jpg", "photos/Wine_by_Jakkub_Mede.jpg", "photos/ColorfulCups_2560x1600.jpg")
BASELINE = "photos/Kleiber_by_Lukas_Baubkus.jpg"


@pytest.fixture
def switch() -> Iterator[None]:
    yield
    fastjpeg.enabled = True


def _base(data: bytes, fast: bool) -> pyvips.Image:
    fastjpeg.enabled = fast
    probed = inspect(data, Limits())
    return render.decode_base(data, probed, plan(probed.facts, default_recipe())).image


def _same(a: pyvips.Image, b: pyvips.Image) -> None:
    assert (a.width, a.height, a.bands, str(a.interpretation)) == (b.width, b.height, b.bands, str(b.interpretation))
    assert (a - b).abs().max() == 0


def _header(data: bytes, shrink: int) -> pyvips.Image:
    return engine.load(data, "jpeg", access="sequential", shrink=shrink)


def test_the_decoder_is_installed() -> None:
    """`make setup` and `make run` install the fast-jpeg extra: without it every progressive JPEG
    would silently cost 25-30% more to decode."""
    assert fastjpeg.available()


@pytest.mark.parametrize("name", PROGRESSIVE)
def test_progressive_photos_take_the_fast_path_with_libvips_pixels(corpus: Path, name: str, switch: None) -> None:
    data = (corpus / name).read_bytes()
    header = _header(data, 2)
    fast = fastjpeg.decode(data, header, 2)
    assert fast is not None
    assert (fast.width, fast.height) == (header.width, header.height)  # libvips' floor, not the ceiling
    _same(fast, header.copy_memory())
    _same(_base(data, fast=True), _base(data, fast=False))


def test_the_render_path_decodes_progressive_files_with_it(
    corpus: Path, switch: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decode_base hands a progressive JPEG to the fast decoder, which decodes it (not None)."""
    answers: list[bool] = []
    decode = fastjpeg.decode

    def spy(data: bytes, header: pyvips.Image, shrink: int) -> pyvips.Image | None:
        image = decode(data, header, shrink)
        answers.append(image is not None)
        return image

    monkeypatch.setattr(fastjpeg, "decode", spy)
    _base((corpus / PROGRESSIVE[0]).read_bytes(), fast=True)
    assert answers == [True]


def test_orientation_and_density_are_carried(corpus: Path, switch: None) -> None:
    """A progressive JPEG with EXIF Orientation 6 and 300 dpi: carried, and turned upright alike."""
    photo = pyvips.Image.thumbnail(str(corpus / BASELINE), 1600).copy(xres=300 / 25.4, yres=300 / 25.4)
    photo.set_type(pyvips.GValue.gint_type, "orientation", 6)
    data = photo.jpegsave_buffer(Q=90, interlace=True, keep="exif")
    header = _header(data, 1)
    fast = fastjpeg.decode(data, header, 1)
    assert fast is not None
    assert fast.get("orientation") == header.get("orientation") == 6
    assert (fast.xres, fast.yres) == (header.xres, header.yres) != (1.0, 1.0)
    upright = _base(data, fast=True)
    assert upright.height > upright.width  # a landscape photo turned a quarter
    _same(upright, _base(data, fast=False))


def test_the_icc_profile_is_carried_and_applied(corpus: Path, switch: None) -> None:
    """A progressive Display P3 JPEG: both paths convert it to the same sRGB pixels."""
    photo = pyvips.Image.thumbnail(str(corpus / BASELINE), 800).icc_transform("p3")
    data = photo.jpegsave_buffer(Q=90, interlace=True, keep="icc")
    header = _header(data, 1)
    fast = fastjpeg.decode(data, header, 1)
    assert fast is not None
    assert fast.get("icc-profile-data") == header.get("icc-profile-data")
    _same(_base(data, fast=True), _base(data, fast=False))


def test_grey_progressive(corpus: Path, switch: None) -> None:
    grey = pyvips.Image.thumbnail(str(corpus / BASELINE), 1200).colourspace("b-w")
    data = grey.jpegsave_buffer(Q=85, interlace=True, keep="none")
    fast = fastjpeg.decode(data, _header(data, 2), 2)
    assert fast is not None
    assert fast.bands == 1
    _same(_base(data, fast=True), _base(data, fast=False))


def test_baseline_and_cmyk_files_stay_with_libvips(corpus: Path) -> None:
    for name in (BASELINE, "edge/jpeg/pil_sample_cmyk.jpg"):
        data = (corpus / name).read_bytes()
        assert fastjpeg.decode(data, _header(data, 1), 1) is None
    assert not fastjpeg.takes(_header((corpus / BASELINE).read_bytes(), 1))


def test_off_means_libvips(corpus: Path, switch: None) -> None:
    data = (corpus / PROGRESSIVE[0]).read_bytes()
    fastjpeg.enabled = False
    assert fastjpeg.decode(data, _header(data, 2), 2) is None


def _cut_progressive(corpus: Path) -> bytes:
    """The progressive photo cut in its scans, an end marker appended: libjpeg warns, no error."""
    data = (corpus / PROGRESSIVE[0]).read_bytes()
    return data[: len(data) * 2 // 3] + b"\xff\xd9"


def test_a_cut_progressive_file_is_refused_by_the_fast_decoder(corpus: Path) -> None:
    data = _cut_progressive(corpus)
    assert fastjpeg.decode(data, _header(data, 2), 2) is None


def test_a_cut_progressive_file_fails_in_libvips_words(corpus: Path, switch: None) -> None:
    data = _cut_progressive(corpus)
    messages = []
    for fast in (True, False):
        fastjpeg.enabled = fast
        with pytest.raises(CorruptImage) as caught:
            process_image(data, default_recipe(), Limits())
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "corrupt or truncated" in messages[0]
