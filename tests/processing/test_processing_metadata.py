"""``keep``: what metadata reaches an output. ``icc+copyright`` carries the ICC profile and an EXIF
block with only the source's Copyright/Artist (and EXIF's own structure): never GPS, never the camera."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from proc_helpers import decode, run

from imgflow.processing import process_image
from imgflow.recipes import Limits, Recipe, Rendition

COPYRIGHT, ARTIST, MAKE, MODEL, GPS_IFD, EXIF_IFD = 0x8298, 0x013B, 0x010F, 0x0110, 0x8825, 0x8769
#: what libvips/libexif write into every EXIF block: resolution, orientation 1, the Exif IFD pointer
STRUCTURE_IFD0 = {0x011A, 0x011B, 0x0128, 0x0213, 0x0112, EXIF_IFD}
#: ExifVersion, ComponentsConfiguration, FlashpixVersion, ColorSpace, PixelX/YDimension
STRUCTURE_EXIF = {0x9000, 0x9101, 0xA000, 0xA001, 0xA002, 0xA003}

CREDITED = tuple(
    Rendition(
        name=f"c-{fmt}", width=160, height=160, format=fmt, keep="icc+copyright", effort=2 if fmt == "avif" else None
    )
    for fmt in ("jpeg", "webp", "png", "avif")
)
RECIPE = Recipe(
    renditions=(
        *CREDITED,
        Rendition(name="plain", width=160, height=160, format="jpeg"),
        Rendition(name="icc", width=160, height=160, format="webp", keep="icc"),
    )
)


def _exif(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif()


@pytest.fixture(scope="module")
def credited_photo(corpus: Path) -> bytes:
    """The GPS-tagged Sony photo (ICC profile, make/model, GPS IFD) with a Copyright and an Artist added."""
    with Image.open(corpus / "photos/ColorfulCups_2560x1600.jpg") as source:
        exif = source.getexif()
        assert exif.get_ifd(GPS_IFD)  # loaded, so tobytes() writes it back
        exif[COPYRIGHT] = "© 2014 Dmitri Popov (LGPL-3.0)".encode()  # UTF-8, as editors write it
        exif[ARTIST] = "Dmitri Popov"
        small = source.resize((640, 400))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=source.info["icc_profile"])
    data = out.getvalue()
    check = _exif(data)
    assert (check[MAKE], check[MODEL]) == ("SONY", "NEX-3N")
    assert check.get_ifd(GPS_IFD)
    assert check[COPYRIGHT].startswith("Â©")  # Pillow reads EXIF ASCII as Latin-1
    return data


def _only_credits(data: bytes) -> dict[int, object]:
    exif = _exif(data)
    assert GPS_IFD not in exif
    assert set(exif) - STRUCTURE_IFD0 <= {COPYRIGHT, ARTIST}, dict(exif)
    assert exif.get(0x0112, 1) == 1  # upright pixels, so orientation is 1 if present at all
    assert set(exif.get_ifd(EXIF_IFD)) <= STRUCTURE_EXIF, dict(exif.get_ifd(EXIF_IFD))
    assert not exif.get_ifd(GPS_IFD)
    return {tag: exif[tag] for tag in (COPYRIGHT, ARTIST) if tag in exif}


def test_icc_plus_copyright_keeps_the_credits_and_nothing_else(credited_photo: bytes) -> None:
    result = process_image(credited_photo, RECIPE, Limits())
    assert result.facts.exif.had_gps
    assert result.facts.exif.copyright == "© 2014 Dmitri Popov (LGPL-3.0)"
    by_name = {r.facts.name: r for r in result.renditions}
    for rendition in CREDITED:
        data = by_name[rendition.name].data
        # EXIF ASCII is 7-bit: libvips transliterates the copyright sign
        assert _only_credits(data) == {COPYRIGHT: "(C) 2014 Dmitri Popov (LGPL-3.0)", ARTIST: "Dmitri Popov"}
        fields = decode(data).get_fields()
        assert "icc-profile-data" in fields, rendition.format
        assert not [f for f in fields if "xmp" in f or "iptc" in f or "gps" in f.lower()]
        assert b"NEX-3N" not in data
        assert b"SONY" not in data
    plain = by_name["plain"].data
    assert not dict(_exif(plain))
    assert not [f for f in decode(plain).get_fields() if "exif" in f or "icc" in f]
    icc_only = by_name["icc"].data
    assert not dict(_exif(icc_only))
    assert "icc-profile-data" in decode(icc_only).get_fields()


def test_a_real_artist_is_carried_and_the_camera_is_not(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="c", width=128, height=128, keep="icc+copyright"),))
    result = run(corpus / "photos/FallenLeaf_2560x1600.jpg", recipe)
    assert (result.facts.exif.make, result.facts.exif.model) == ("Canon", "Canon EOS 70D")
    data = result.renditions[0].data
    assert _only_credits(data) == {ARTIST: "Martin Klapetek"}
    assert b"Canon" not in data


def test_no_credits_means_no_exif_block(corpus: Path) -> None:
    recipe = Recipe(renditions=(Rendition(name="c", width=128, height=128, format="png", keep="icc+copyright"),))
    for name in ("photos/coffee.png", "edge/exif/exif_gps.jpg", "edge/exif/invalid-exif.jpg"):
        data = run(corpus / name, recipe).renditions[0].data
        assert not dict(_exif(data)), name
        assert not [f for f in decode(data).get_fields() if "exif" in f]
