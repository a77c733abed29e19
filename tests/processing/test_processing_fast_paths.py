"""The fast paths give the same results: encodes spread over threads, resize-then-rotate,
Huffman optimisation only for small JPEGs, the separable BlurHash encoder."""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path

import blurhash
import pytest
import pyvips
from hypothesis import given, settings
from hypothesis import strategies as st
from proc_helpers import decode, mad

from imgflow.processing import blur, process_image
from imgflow.processing.spread import Spread
from imgflow.recipes import Limits, Recipe, Rendition, Watermark, default_recipe

KLEIBER = "photos/Kleiber_by_Lukas_Baubkus.jpg"
MIXED = Recipe(
    name="mixed",
    renditions=(
        Rendition(name="big", width=900, height=900, format="jpeg", quality=80),
        Rendition(name="big", width=900, height=900, format="webp", quality=75, effort=0),
        Rendition(name="card", width=300, height=200, fit="cover", format="webp", effort=0),
        Rendition(name="face", width=120, height=120, fit="attention", format="png"),
        Rendition(name="mark", width=400, height=400, format="jpeg", watermark=Watermark(text="imgflow")),
    ),
)


def _oracle(image: pyvips.Image) -> str:
    raw, width, height = blur.thumbnail_rgb(image)
    rows = [[list(raw[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)] for y in range(height)]
    return str(blurhash.encode(rows, components_x=4, components_y=3))


@pytest.mark.parametrize("name", [KLEIBER, "edge/orientation/Portrait_6.jpg", "photos/coffee.png"])
def test_two_threads_make_the_same_bytes_as_one(corpus: Path, name: str) -> None:
    data = (corpus / name).read_bytes()
    one = process_image(data, MIXED, Limits(threads=1))
    two = process_image(data, MIXED, Limits(threads=2))
    assert [r.facts for r in two.renditions] == [r.facts for r in one.renditions]
    assert [r.data for r in two.renditions] == [r.data for r in one.renditions]
    assert [r.facts.name for r in one.renditions] == ["big", "big", "card", "face", "mark"]  # recipe order
    assert two.facts == one.facts


def test_a_large_orientation_6_jpeg_is_shrunk_on_load_in_stored_coordinates(tmp_path: Path, corpus: Path) -> None:
    # 1600x1000 stored, 1000x1600 upright; 250x400 asks for a 4x DCT shrink of the stored 1600x1000
    photo = pyvips.Image.thumbnail(str(corpus / KLEIBER), 1600, height=1000, crop="centre")
    upright = photo.rot90()
    tagged = photo.copy()
    tagged.set_type(pyvips.GValue.gint_type, "orientation", 6)
    data = tagged.jpegsave_buffer(Q=90, keep="exif")
    recipe = Recipe(name="r", renditions=(Rendition(name="t", width=400, height=400, format="png"),))
    result = process_image(data, recipe, Limits())
    out = decode(result.renditions[0].data)
    assert (result.facts.oriented_width, result.facts.oriented_height) == (1000, 1600)
    assert (out.width, out.height) == (250, 400)
    assert mad(upright, out) < 5.0
    assert mad(upright, out.rot180()) > 30.0


#: the DC luminance table of the JPEG standard (Annex K): what an unoptimised libjpeg file carries
STANDARD_DC_LUMA_BITS = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])


def _dc_luma_bits(data: bytes) -> bytes:
    """The code-length counts of the file's DC table 0 (markers walked up to the scan)."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xC4:  # DHT: one or more tables
            table = at + 4
            while table < at + 2 + length:
                counts = data[table + 1 : table + 17]
                if data[table] == 0x00:
                    return counts
                table += 17 + sum(counts)
        if marker == 0xDA:
            break
        at += 2 + length
    raise AssertionError("no DC table 0 before the scan")


def test_only_small_jpegs_get_huffman_optimisation(corpus: Path) -> None:
    result = process_image((corpus / KLEIBER).read_bytes(), default_recipe(), Limits())
    optimised = {
        r.facts.width: _dc_luma_bits(r.data) != STANDARD_DC_LUMA_BITS
        for r in result.renditions
        if r.facts.format == "jpeg"
    }
    assert optimised == {2048: False, 1024: True, 256: True}
    # the check can fail: libvips' plain output carries the standard table
    plain = decode(result.renditions[0].data).jpegsave_buffer(Q=82, optimize_coding=False)
    assert _dc_luma_bits(plain) == STANDARD_DC_LUMA_BITS


def test_the_blurhash_comes_from_a_small_rendition_and_matches_the_reference_encoder(corpus: Path) -> None:
    data = (corpus / KLEIBER).read_bytes()
    result = process_image(data, default_recipe(), Limits())
    thumb = next(r for r in result.renditions if r.facts.name == "thumb" and r.facts.format == "webp")
    hash_ = result.facts.blurhash
    assert hash_ is not None
    assert len(hash_) == 28  # 4x3 components
    # the same picture: the reference encoder on the 256 px rendition agrees on the DC colour
    assert _oracle(decode(thumb.data))[2:6] == hash_[2:6]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 24).flatmap(
        lambda w: st.integers(1, 24).flatmap(
            lambda h: st.tuples(st.just(w), st.just(h), st.binary(min_size=w * h * 3, max_size=w * h * 3))
        )
    )
)
def test_the_blurhash_encoder_equals_the_reference(case: tuple[int, int, bytes]) -> None:
    width, height, raw = case
    rows = [[list(raw[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)] for y in range(height)]
    assert blur.encode(raw, width, height) == blurhash.encode(rows, components_x=4, components_y=3)


def test_spread_with_one_thread_runs_inline_in_order() -> None:
    caller = threading.get_ident()
    seen: list[int] = []

    def task(n: int) -> int:
        seen.append(threading.get_ident())
        return n

    with Spread[int](1) as spread:
        for n in range(4):
            spread.submit(partial(task, n))
            assert len(seen) == n + 1  # ran at submit
        assert spread.gather() == [0, 1, 2, 3]
    assert set(seen) == {caller}


def test_spread_never_has_more_than_its_budget_busy() -> None:
    lock = threading.Lock()
    busy = [0, 0]  # now, most

    def task(n: int) -> int:
        with lock:
            busy[0] += 1
            busy[1] = max(busy[1], busy[0])
        time.sleep(0.01)
        with lock:
            busy[0] -= 1
        return n * n

    with Spread[int](2) as spread:
        for n in range(8):
            spread.submit(partial(task, n))
        assert spread.gather() == [n * n for n in range(8)]
    assert busy[1] == 2  # the caller and one worker, never more


def _boom() -> int:
    raise ValueError("boom")


def test_spread_raises_a_task_error_at_gather() -> None:
    with Spread[int](2) as spread:
        spread.submit(partial(int, "1"))
        spread.submit(_boom)
        with pytest.raises(ValueError, match="boom"):
            spread.gather()
