"""Watermarks (text and image) on grey, palette and alpha inputs change the corner only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvips
from proc_helpers import array, decode, run

from imgflow.errors import BadRecipe
from imgflow.recipes import Recipe, Rendition, Watermark


def _logo() -> bytes:
    green = (
        pyvips.Image.black(40, 24).new_from_image([20, 230, 60]).bandjoin(255).cast("uchar").copy(interpretation="srgb")
    )
    return bytes(green.pngsave_buffer())


MARKS = {
    "text": Watermark(text="<&> ok", size=0.1, margin=4, opacity=1.0, color=(255, 255, 0)),
    "grey-text": Watermark(text="imgflow", size=0.1, margin=4, opacity=0.8, color=(255, 255, 255)),
    "image": Watermark(image=_logo(), size=0.1, margin=4, opacity=0.9),
}


def _pair(path: Path, mark: Watermark) -> tuple[np.ndarray, np.ndarray]:
    recipe = Recipe(
        renditions=(
            Rendition(name="plain", width=120, height=120, format="png"),
            Rendition(name="marked", width=120, height=120, format="png", watermark=mark),
        )
    )
    plain, marked = run(path, recipe).renditions
    a, b = decode(plain.data), decode(marked.data)
    # compare in RGBA: a grey input may come out grey or RGB
    a, b = (im.colourspace("srgb") if im.bands < 3 else im for im in (a, b))
    a, b = (im if im.hasalpha() else im.bandjoin(255) for im in (a, b))
    return array(a).astype(int), array(b).astype(int)


@pytest.mark.parametrize("kind", sorted(MARKS))
@pytest.mark.parametrize(
    "name", ["edge/jpeg/hopper_gray.jpg", "edge/png/p_trns_single.png", "edge/png/transparent.png", "photos/coffee.png"]
)
def test_watermark_changes_the_bottom_right_corner_only(corpus: Path, name: str, kind: str) -> None:
    plain, marked = _pair(corpus / name, MARKS[kind])
    assert plain.shape == marked.shape
    h, w = plain.shape[:2]
    diff = np.abs(plain - marked).max(axis=2)
    corner = np.zeros_like(diff, dtype=bool)
    corner[h // 2 :, w // 2 :] = True
    assert diff[~corner].max() == 0
    assert (diff[corner] > 0).sum() >= 30  # something visible was stamped
    assert diff[corner].max() > 30


def test_watermark_on_a_one_pixel_image_does_not_fail(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="m", format="jpeg", watermark=MARKS["text"]),))
    rendered = run(corpus / "edge/png/tRNS_null_1x1.png", recipe).renditions[0]
    assert (rendered.facts.width, rendered.facts.height) == (1, 1)


def test_an_unreadable_watermark_image_is_a_bad_recipe(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="m", watermark=Watermark(image=b"not an image")),))
    with pytest.raises(BadRecipe):
        run(corpus / "edge/jpeg/hopper.jpg", recipe)
