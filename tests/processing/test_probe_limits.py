"""The probe's size limits: both sides against ``max_dimension``, every frame against ``max_pixels``,
and a refusal that shows the limit with the precision it was set with."""

from __future__ import annotations

import pytest
import pyvips
from proc_helpers import pattern

from imgflow.errors import TooManyPixels
from imgflow.processing import probe
from imgflow.recipes import Limits


def _png(width: int, height: int) -> bytes:
    return bytes(pattern(width, height).write_to_buffer(".png"))


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


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_every_frame_counts_against_max_pixels(fmt: str) -> None:
    """3 frames of 100x100 are 30,000 pixels: over a 25,000 limit that one frame (10,000) is under."""
    data = _animation(fmt, 100, 100, 3)
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
