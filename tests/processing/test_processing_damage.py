"""Damaged JPEGs fail instead of turning grey; tiny and thin images of every format process."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips
from proc_helpers import ACCEPTED, decode, mad, make_image, pattern

from imgflow.errors import CorruptImage
from imgflow.processing import process_image
from imgflow.processing.jpegscan import restarts_complete, without_header_junk
from imgflow.recipes import Limits, Recipe, Rendition, default_recipe

LIMITS = Limits()
EOI = b"\xff\xd9"


def _photo_like(interlace: bool) -> bytes:
    return bytes(pattern(640, 480).jpegsave_buffer(Q=92, interlace=interlace))


@pytest.mark.parametrize("interlace", [False, True], ids=["baseline", "progressive"])
def test_a_cut_jpeg_with_an_end_marker_appended_fails(interlace: bool) -> None:
    whole = _photo_like(interlace)
    assert whole.endswith(EOI)
    cut = whole[: len(whole) // 2]
    with pytest.raises(CorruptImage):
        process_image(cut, default_recipe(), LIMITS)
    with pytest.raises(CorruptImage, match="jpeg"):  # libjpeg calls this a warning and paints grey
        process_image(cut + EOI, default_recipe(), LIMITS)
    assert len(process_image(whole, default_recipe(), LIMITS).renditions) == 6


def test_junk_before_a_restart_marker_is_not_a_truncation(corpus: Path) -> None:
    """hopper_bad_exif.jpg: libjpeg skips 1214 bytes before a restart marker (a warning): processed,
    as the manifest asks. The same file cut short still fails, with or without an end marker, even
    when only its last restart interval is missing (libvips stops at the junk, before the cut)."""
    data = (corpus / "edge/exif/hopper_bad_exif.jpg").read_bytes()
    result = process_image(data, default_recipe(), LIMITS)
    assert (result.facts.width, result.facts.height) == (500, 500)
    assert len(result.renditions) == 6
    last = _restarts(data)[-1]
    # half of it, with and without an end marker; all but the last interval; all but its last 100 bytes
    for cut in (data[: len(data) // 2], data[: len(data) // 2] + EOI, data[:last] + EOI, data[:-100]):
        with pytest.raises(CorruptImage, match="jpeg"):
            process_image(cut, default_recipe(), LIMITS)
    assert restarts_complete(data)
    assert not restarts_complete(data[:last] + EOI)


def _restarts(data: bytes) -> list[int]:
    """Where the restart markers are (RST0-7 after the first scan's header)."""
    start = data.index(b"\xff\xda")
    return [i for i in range(start, len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]


def test_a_shortened_restart_interval_still_fails() -> None:
    """Every restart marker is there, but one interval lost its second half: libjpeg hits the next
    marker early ("premature end of data segment", not junk) and paints grey. Refused."""
    data = bytes(pattern(640, 480).jpegsave_buffer(Q=92, restart_interval=4))
    at = _restarts(data)
    shortened = data[: (at[10] + at[11]) // 2] + data[at[11] :]
    assert restarts_complete(shortened)
    with pytest.raises(CorruptImage, match="jpeg"):
        process_image(shortened, default_recipe(), LIMITS)
    assert len(process_image(data, default_recipe(), LIMITS).renditions) == 6


def test_restart_markers_are_counted_against_the_frame() -> None:
    """A restart every 4 MCUs: 38x25 MCUs of 8x8 (4:4:4) or 19x13 of 16x16 (4:2:0), one marker
    between two intervals; a scan cut short has fewer. Without restarts nothing can be told."""
    image = pattern(300, 200)
    for subsample in ("off", "on"):
        data = bytes(image.jpegsave_buffer(Q=90, restart_interval=4, subsample_mode=subsample))
        assert restarts_complete(data)
        assert not restarts_complete(data[: len(data) // 2] + EOI)
    assert not restarts_complete(bytes(image.jpegsave_buffer(Q=90)))
    assert not restarts_complete(bytes(image.jpegsave_buffer(Q=90, restart_interval=4, interlace=True)))


def _with_junk_before_dqt(data: bytes) -> bytes:
    at = data.index(b"\xff\xdb")
    return data[:at] + b"hello" + data[at:]


def test_junk_between_header_segments_is_skipped_and_the_picture_is_intact() -> None:
    clean = _photo_like(False)
    junky = _with_junk_before_dqt(clean)
    assert without_header_junk(clean) is clean
    assert without_header_junk(junky) == clean
    recipe = Recipe(name="r", renditions=(Rendition(name="t", width=200, height=200, format="png"),))
    out = decode(process_image(junky, recipe, LIMITS).renditions[0].data)
    ref = decode(process_image(clean, recipe, LIMITS).renditions[0].data)
    assert mad(out, ref) < 1.0


THUMB = Recipe(
    name="thin",
    renditions=(
        Rendition(name="big", width=2048, height=2048, format="jpeg"),
        Rendition(name="tiny", width=16, height=16, format="webp"),
        Rendition(name="box", width=8, height=8, fit="cover", format="png"),
        Rendition(name="same", width=4, height=4, format="same"),
    ),
)
#: only a small output: the decode itself shrinks (JPEG DCT scaling, WebP scaled decode)
SMALL_ONLY = Recipe(name="small", renditions=(Rendition(name="tiny", width=16, height=16, format="jpeg"),))
SHAPES = [(1, 1), (2, 2), (1, 300), (300, 1), (1, 7), (7, 1), (5, 900), (900, 5)]


@pytest.mark.parametrize("fmt", ACCEPTED)
@pytest.mark.parametrize(("width", "height"), SHAPES, ids=[f"{w}x{h}" for w, h in SHAPES])
def test_tiny_and_thin_images_process(fmt: str, width: int, height: int) -> None:
    data = make_image(fmt, width, height)
    result = process_image(data, THUMB, LIMITS)
    assert (result.facts.width, result.facts.height) == (width, height)
    for rendered in result.renditions:
        out = decode(rendered.data)
        assert (out.width, out.height) == (rendered.facts.width, rendered.facts.height)
        assert min(out.width, out.height) >= 1
        assert out.width <= width
        assert out.height <= height
    big = decode(result.renditions[0].data)
    assert (big.width, big.height) == (width, height)  # never enlarged, never cut
    tiny = decode(result.renditions[1].data)
    assert max(tiny.width, tiny.height) == min(16, max(width, height))
    shrunk = decode(process_image(data, SMALL_ONLY, LIMITS).renditions[0].data)
    assert (shrunk.width, shrunk.height) == (tiny.width, tiny.height)


def test_a_one_pixel_jpeg_keeps_its_colour() -> None:
    one = pyvips.Image.black(1, 1).new_from_image([200, 40, 90]).cast("uchar").copy(interpretation="srgb")
    result = process_image(bytes(one.jpegsave_buffer(Q=95)), THUMB, LIMITS)
    pixel = decode(result.renditions[2].data)(0, 0)
    assert [abs(a - b) < 12 for a, b in zip(pixel[:3], (200, 40, 90), strict=True)] == [True] * 3
