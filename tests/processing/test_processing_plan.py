"""Property tests of the pure planner."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imgflow.facts import ImageFacts
from imgflow.processing.plan import Plan, plan
from imgflow.recipes import Recipe, Rendition

sides = st.integers(min_value=1, max_value=20000)
boxes = st.one_of(st.none(), st.integers(min_value=1, max_value=4000))


def _facts(width: int, height: int, fmt: str = "jpeg") -> ImageFacts:
    return ImageFacts(
        sha256="0" * 64, format=fmt, content_type="image/jpeg", bytes=1,
        width=width, height=height, oriented_width=width, oriented_height=height,
    )  # fmt: skip


def _one(width: int, height: int, rendition: Rendition) -> Plan:
    return plan(_facts(width, height), Recipe(renditions=(rendition,)))


@settings(max_examples=300, deadline=None)
@given(sides, sides, boxes, boxes, st.booleans())
def test_contain_never_upscales_never_zero_keeps_aspect(
    w: int, h: int, bw: int | None, bh: int | None, up: bool
) -> None:
    step = _one(w, h, Rendition(name="r", width=bw, height=bh, upscale=up)).steps[0]
    assert step.width >= 1
    assert step.height >= 1
    assert (step.width, step.height) == (step.resize_width, step.resize_height)
    if not up:
        assert step.width <= w
        assert step.height <= h
    if bw is not None:
        assert step.width <= bw or (not up and step.width == w and bw >= w)
    if bh is not None:
        assert step.height <= bh or (not up and step.height == h and bh >= h)
    # aspect within 1 px, unless a side was pinned at 1 px
    if step.width > 1 and step.height > 1:
        assert abs(step.width * h / w - step.height) <= 1 or abs(step.height * w / h - step.width) <= 1


@settings(max_examples=300, deadline=None)
@given(sides, sides, st.integers(1, 4000), st.integers(1, 4000), st.booleans(), st.sampled_from(["cover", "attention"]))
def test_cover_crops_to_exactly_the_box(w: int, h: int, bw: int, bh: int, up: bool, fit: str) -> None:
    step = _one(w, h, Rendition(name="r", width=bw, height=bh, fit=fit, upscale=up)).steps[0]  # type: ignore[arg-type]
    assert step.width >= 1
    assert step.height >= 1
    assert step.resize_width >= step.width
    assert step.resize_height >= step.height
    covering_scale = max(bw / w, bh / h)
    if up or covering_scale <= 1:
        assert (step.width, step.height) == (bw, bh)
    else:  # would need an upscale: the box clipped to the image, never enlarged
        assert (step.resize_width, step.resize_height) == (w, h)
        assert (step.width, step.height) == (min(bw, w), min(bh, h))
    if not up:
        assert step.resize_width <= w
        assert step.resize_height <= h
    assert (
        abs(step.resize_width * h / w - step.resize_height) <= 1
        or abs(step.resize_height * w / h - step.resize_width) <= 1
    )


def test_same_format_and_animation_rules() -> None:
    recipe = Recipe(
        renditions=(
            Rendition(name="a", format="same", animation="keep"),
            Rendition(name="b", format="same"),
            Rendition(name="c", format="jpeg", animation="keep"),
        )
    )
    gif = _facts(100, 80, "gif").model_copy(update={"frames": 5})
    steps = plan(gif, recipe).steps
    assert [(s.format, s.animated) for s in steps] == [("webp", True), ("webp", False), ("jpeg", False)]
    heic = plan(_facts(100, 80, "heif"), recipe).steps
    assert heic[0].format == "jpeg"
    tiff_alpha = _facts(10, 10, "tiff").model_copy(update={"has_alpha": True})
    assert plan(tiff_alpha, recipe).steps[0].format == "png"


def test_base_is_the_largest_step() -> None:
    recipe = Recipe(renditions=(Rendition(name="s", width=100), Rendition(name="l", width=1000, height=1000)))
    result = plan(_facts(4000, 3000), recipe)
    assert (result.base_width, result.base_height) == (1000, 750)


def test_renditions_that_collapse_to_the_same_output_are_encoded_once() -> None:
    import pyvips

    from imgflow.processing import process_image
    from imgflow.recipes import Limits, default_recipe

    small = bytes(pyvips.Image.black(128, 96).bandjoin([60, 200]).cast("uchar").jpegsave_buffer())
    result = process_image(small, default_recipe(), Limits())
    by_name = {(r.facts.name, r.facts.format): r for r in result.renditions}
    assert [r.facts.name for r in result.renditions] == ["large", "large", "medium", "medium", "thumb", "thumb"]
    for fmt in ("jpeg", "webp"):
        large = by_name["large", fmt]
        for name in ("medium", "thumb"):
            assert by_name[name, fmt].data is large.data  # one encode, shared
            assert by_name[name, fmt].facts == large.facts.model_copy(update={"name": name})
    assert by_name["large", "jpeg"].data != by_name["large", "webp"].data
