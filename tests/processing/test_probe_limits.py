"""The probe's limits: both sides against ``max_dimension``, every frame against ``max_pixels`` and
the decode budget, ``max_frames`` and ``max_bytes`` inclusive, and a refusal that shows the limit
with the precision it was set with."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import pyvips
from proc_helpers import pattern

from imgflow.errors import CorruptImage, TooLarge, TooLargeDecoded, TooManyFrames, TooManyPixels
from imgflow.processing import probe
from imgflow.recipes import Limits


def _png(width: int, height: int) -> bytes:
    return bytes(pattern(width, height).write_to_buffer(".png"))


def _heic(width: int, height: int, frames: int) -> bytes:
    import pillow_heif
    from PIL import Image

    pictures = [Image.new("RGB", (width, height), (60 * n, 90, 30)) for n in range(frames)]
    heif = pillow_heif.from_pillow(pictures[0])
    for picture in pictures[1:]:
        heif.add_from_pillow(picture)
    out = io.BytesIO()
    heif.save(out, format="HEIF")
    return out.getvalue()


def _animation(fmt: str, width: int, height: int, frames: int) -> bytes:
    pages = [(pattern(width, height) + 60 * n).cast("uchar") for n in range(frames)]  # distinct: none merged
    strip = pyvips.Image.arrayjoin(pages, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    return bytes(strip.write_to_buffer(f".{fmt}"))


@pytest.mark.parametrize(("width", "height"), [(300, 10), (10, 300)], ids=["wide", "tall"])
def test_each_side_is_checked_against_max_dimension(width: int, height: int) -> None:
    limits = Limits(max_dimension=200)
    with pytest.raises(TooManyPixels) as info:
        probe(_png(width, height), limits)
    assert f"{width}x{height}" in info.value.message
    assert "longer than 200 pixels" in info.value.message
    assert (probe(_png(200, 200), limits).width, probe(_png(200, 200), limits).height) == (200, 200)


@pytest.mark.parametrize("fmt", ["gif", "webp", "heif"])
def test_every_frame_counts_against_max_pixels(fmt: str) -> None:
    """3 frames of 100x100 are 30,000 pixels: over a 25,000 limit that one frame (10,000) is under."""
    data = _heic(100, 100, 3) if fmt == "heif" else _animation(fmt, 100, 100, 3)
    limits = Limits(max_pixels=25_000)
    with pytest.raises(TooManyPixels) as info:
        probe(data, limits)
    assert "100x100 x 3 frames = 0.030 MP; the limit is 0.025 MP" in info.value.message
    facts = probe(data, Limits(max_pixels=30_000))
    assert (facts.width, facts.height, facts.frames) == (100, 100, 3)


def test_the_refusal_shows_a_small_limit_with_its_digits() -> None:
    """250x250 is 0.0625 MP against a 0.03 MP limit: "0.06 MP; the limit is 0.03 MP", not "0.0 MP"."""
    with pytest.raises(TooManyPixels) as info:
        probe(_png(250, 250), Limits(max_pixels=30_000))
    assert info.value.message.endswith("250x250 = 0.06 MP; the limit is 0.03 MP.")


def test_every_frame_counts_against_the_decode_budget() -> None:
    """An animation's frames are all held: 3 x 100x100 x 3 channels = 90 kB, over 60 kB."""
    data = _animation("webp", 100, 100, 3)
    with pytest.raises(TooLargeDecoded, match="100x100 pixels x 3 frames"):
        probe(data, Limits(max_decoded_bytes=60_000))
    assert probe(data, Limits(max_decoded_bytes=90_000)).frames == 3


def test_max_frames_and_max_bytes_are_inclusive() -> None:
    data = _animation("webp", 20, 20, 3)
    assert probe(data, Limits(max_frames=3, max_bytes=len(data))).frames == 3
    with pytest.raises(TooManyFrames, match="3 frames; at most 2"):
        probe(data, Limits(max_frames=2))
    with pytest.raises(TooLarge, match=f"{len(data)} bytes; at most {len(data) - 1}"):
        probe(data, Limits(max_bytes=len(data) - 1))


def test_a_gif_declaring_no_height_is_corrupt() -> None:
    """The GIF block walk measures the canvas before any decoder: 10x0 is refused there."""
    data = bytearray(pyvips.Image.black(10, 10, bands=3).cast("uchar").gifsave_buffer())
    data[8:10] = (0).to_bytes(2, "little")  # the logical screen's height
    at = data.index(b"\x2c", 13)  # the image descriptor: left, top, width, height
    data[at + 7 : at + 9] = (0).to_bytes(2, "little")
    with pytest.raises(CorruptImage, match=r"declares an empty size \(10x0\)"):
        probe(bytes(data), Limits())


@pytest.mark.parametrize("n", range(1, 9))
def test_orientations_5_to_8_swap_the_upright_size(corpus: Path, n: int) -> None:
    facts = probe((corpus / f"edge/orientation/Landscape_{n}.jpg").read_bytes(), Limits())
    stored = (1800, 1200) if n < 5 else (1200, 1800)
    assert (facts.orientation, facts.width, facts.height) == (n, *stored)
    assert (facts.oriented_width, facts.oriented_height) == (1800, 1200)  # a landscape, whatever the tag
