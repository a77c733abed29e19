"""The transform options and the URL: one spelling, strict refusals, signatures that catch any change."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgflow.errors import BadSignature, BadTransform, NotFound
from imgflow.facts import ImageFacts
from imgflow.ondemand import OnDemandSettings, Signer, Transform, parse_options, parse_url, serialize
from imgflow.ondemand.options import FORMATS, GRAVITIES
from imgflow.ondemand.urls import make_path, moved_path, sign_path
from imgflow.records import ImageRecord
from imgflow.settings import Settings

KEY = b"k" * 32
OLD = b"o" * 32
ID = "01HZX3M8Q7V4N6J2K9T5R0W1YC"


@st.composite
def transforms(draw: st.DrawFn, largest: int = 16384) -> Transform:
    fit = draw(st.sampled_from(["contain", "cover"]))
    width = draw(st.none() | st.integers(1, largest))
    height = draw(st.none() | st.integers(1, largest))
    if fit == "cover":
        width, height = width or 100, height or 100
    if width is None and height is None:
        width = 10
    fmt = draw(st.sampled_from(FORMATS))
    return Transform(
        width=width,
        height=height,
        fit=fit,  # type: ignore[arg-type]
        gravity=draw(st.sampled_from(GRAVITIES)) if fit == "cover" else "centre",  # type: ignore[arg-type]
        format=fmt,  # type: ignore[arg-type]
        quality=None if fmt == "png" else draw(st.none() | st.integers(1, 100)),
        dpr=draw(st.sampled_from([1.0, 1.5, 2.0, 2.25, 3.0, 4.0])),
        upscale=draw(st.booleans()),
    )


@given(transforms())
def test_round_trip(t: Transform) -> None:
    text = serialize(t)
    assert parse_options(text) == t
    assert serialize(parse_options(text)) == text


def _open_settings() -> OnDemandSettings:
    return OnDemandSettings(size_step=1, max_width=16384, max_height=16384, allow_upscale=True,
                            dprs=(1.0, 1.5, 2.0, 2.25, 3.0, 4.0))  # fmt: skip


@given(transforms(largest=4096), st.integers(1, 10**6), st.data())
def test_any_change_to_a_signed_path_is_refused(t: Transform, generation: int, data: st.DataObject) -> None:
    settings = _open_settings()
    signer = Signer([KEY])
    path = sign_path(signer, serialize(t), ID, generation)
    assert parse_url(path, settings, signer).transform == t
    index = data.draw(st.integers(3, len(path) - 1))
    replacement = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_,-./"))
    tampered = path[:index] + replacement + path[index + 1 :]
    if tampered == path:
        return
    with pytest.raises((BadSignature, BadTransform, NotFound)):
        parse_url(tampered, settings, signer)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "1 to"),
        ("w_400,w_400", "twice"),
        ("h_300,w_400", "order"),
        ("w_400,x_1", "unknown option"),
        ("w_0400", "leading zeros"),
        ("w_0", "leading zeros"),
        ("w_-4", "positive"),
        ("w_400,fit_contain", "one spelling"),
        ("w_400,f_auto", "one spelling"),
        ("w_400,dpr_1", "one spelling"),
        ("w_400,dpr_2.0", "one spelling"),
        ("w_400,dpr_2.005", "dpr_"),
        ("w_400,dpr_5", "dpr_ takes"),
        ("w_400,dpr_4.5", "between 1 and 4"),
        ("w_400,fit_cover", "needs both"),
        ("w_400,h_300,g_north", "only applies to fit_cover"),
        ("w_400,f_gif", "f_ is one of"),
        ("w_400,f_png,q_80", "lossless"),
        ("w_400,q_101", "between 1 and 100"),
        ("w_400,up_2", "only 1"),
        ("w_400,up_true", "only 1"),
        ("q_80", "needs a width"),
        ("w_20000", "between 1 and 16384"),
        ("w", "key_value"),
        ("w_", "key_value"),
        ("w_400,", "key_value"),
        ("w_400,h_300,fit_cover,g_middle", "g_ is one of"),
        ("w_" + "1" * 200, "1 to"),
    ],
)
def test_options_refused(text: str, why: str) -> None:
    with pytest.raises(BadTransform, match=why):
        parse_options(text)


def test_signature_covers_generation_and_image() -> None:
    settings = OnDemandSettings()
    signer = Signer([KEY])
    path = sign_path(signer, "w_400", ID, 3)
    signature = path.split("/")[2]
    for other in (f"/t/{signature}/w_400/{ID}/4", f"/t/{signature}/w_400/{ID[:-1]}Z/3", f"/t/{signature}/w_640/{ID}/3"):
        with pytest.raises(BadSignature):
            parse_url(other, settings, signer)


def test_several_keys_verify_the_first_signs() -> None:
    settings = OnDemandSettings()
    old_path = sign_path(Signer([OLD]), "w_400", ID, 1)
    rotated = Signer([KEY, OLD])
    assert parse_url(old_path, settings, rotated).transform.width == 400
    assert sign_path(rotated, "w_400", ID, 1) == sign_path(Signer([KEY]), "w_400", ID, 1)
    with pytest.raises(BadSignature):
        parse_url(old_path, settings, Signer([KEY]))  # the old key retired


def test_keys_rotated_in_the_settings(tmp_path: Path) -> None:
    """``ondemand.keys: [new, old]`` as the servers read them: the API's links sign with the new key,
    the transform signer verifies both, and a key dropped from the list verifies nothing."""
    from imgflow.bootstrap_ondemand import build_links, transform_signer
    from imgflow.settings import load_settings

    def settings_with(*keys: bytes) -> Settings:
        ondemand = {"keys": [k.decode() for k in keys]}
        return load_settings(environ={}, backend="local", data_dir=tmp_path, ondemand=ondemand)

    rotated = settings_with(KEY, OLD)
    signer = transform_signer(rotated)
    from_old, from_new = (sign_path(Signer([k]), "w_400", ID, 1) for k in (OLD, KEY))
    for path in (from_old, from_new):
        assert parse_url(path, rotated.ondemand, signer).transform.width == 400
    links = build_links(rotated)
    assert links is not None
    record = ImageRecord(image_id=ID, owner="o", status="done", created_at=1.0, updated_at=1.0, generation=1,
                         facts=ImageFacts(sha256="ab" * 32, format="png", content_type="image/png", bytes=1,
                                          width=800, height=600, oriented_width=800, oriented_height=600))  # fmt: skip
    assert links.url(record, Transform(width=400)).endswith(from_new)
    retired = transform_signer(settings_with(KEY))
    with pytest.raises(BadSignature):
        parse_url(from_old, rotated.ondemand, retired)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ("w_401", "not an allowed size"),
        ("w_400,h_333,fit_cover", "not an allowed size"),
        ("w_3840,dpr_2", "at most 4096x4096"),
        ("w_400,dpr_2.5", "dpr must be one of"),
        ("w_400,up_1", "upscaling"),
    ],
)
def test_limits_refused_after_a_valid_signature(options: str, why: str) -> None:
    settings, signer = OnDemandSettings(), Signer([KEY])
    with pytest.raises(BadTransform, match=why):
        parse_url(sign_path(signer, options, ID, 1), settings, signer)


def test_unsigned_only_for_public_presets() -> None:
    settings = OnDemandSettings(presets={"thumb": "w_200,h_200,fit_cover", "card": "w_600"}, public_presets=("thumb",))
    signer = Signer([KEY])
    url = parse_url(f"/t/_/p_thumb/{ID}/2", settings, signer)
    assert (url.transform.width, url.transform.fit, url.preset) == (200, "cover", "thumb")
    for path in (f"/t/_/p_card/{ID}/2", f"/t/_/w_400/{ID}/2", f"/t/_/p_nope/{ID}/2"):
        with pytest.raises(BadSignature):
            parse_url(path, settings, signer)
    assert parse_url(sign_path(signer, "p_card", ID, 2), settings, signer).transform.width == 600
    assert moved_path(url, signer, 3) == f"/t/_/p_thumb/{ID}/3"


@pytest.mark.parametrize(
    "path",
    ["/t/sig/w_400/ID/1/extra", "/t/sig/w_400/ID", "/t/sig/w_400/ID/0", "/t/sig/w_400/ID/01", "/t/sig/w_400/../1",
     "/t/sig/w_400/ID/x", "/t/s%20g/w_400/ID/1", "/x/sig/w_400/ID/1"],
)  # fmt: skip
def test_malformed_paths_are_not_found(path: str) -> None:
    with pytest.raises(NotFound):
        parse_url(path, OnDemandSettings(), Signer([KEY]))


def test_make_path_rounds_up_to_the_grid() -> None:
    signer = Signer([KEY])
    assert "/w_480/" in make_path(signer, OnDemandSettings(), Transform(width=401), ID, 1)
    assert "/w_450,h_300,fit_cover/" in make_path(
        signer, OnDemandSettings(size_step=50), Transform(width=401, height=290, fit="cover"), ID, 1
    )
    with pytest.raises(BadTransform, match="at most"):
        make_path(signer, OnDemandSettings(), Transform(width=3000, dpr=2.0), ID, 1)


def test_settings_refuse_bad_presets_and_keys() -> None:
    with pytest.raises(ValueError, match="preset 'x'"):
        OnDemandSettings(presets={"x": "w_400,w_400"})
    with pytest.raises(ValueError, match="do not exist"):
        OnDemandSettings(public_presets=("x",))
    with pytest.raises(ValueError, match="16 characters"):
        OnDemandSettings(keys=("short",))  # type: ignore[arg-type]
