"""The decode budget counts bytes (bit depth, channels, interlacing, AVIF/HEIC), on headers, before
any decode; limit messages read as sentences with numbers that differ."""

from __future__ import annotations

import re
import struct
import zlib
from io import BytesIO

import numpy as np
import pillow_heif
import pytest
import pyvips
from proc_helpers import decode, mad, make_image, pattern

from imgflow.errors import TooLargeDecoded, TooManyPixels, UnsupportedFormat
from imgflow.processing import probe, process_image
from imgflow.processing.budget import Decode
from imgflow.recipes import Limits, Recipe, Rendition

ONE = Recipe(name="one", renditions=(Rendition(name="t", width=64, height=64, format="png"),))


def _png(image: pyvips.Image, *, bits: int = 8, interlace: bool = False) -> bytes:
    if bits == 16:
        image = (image.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")
    return bytes(image.pngsave_buffer(bitdepth=bits, interlace=interlace))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int, bits: int, colour_type: int, interlace: int) -> bytes:
    """A PNG whose header declares the size; its one IDAT is tiny (the probe never inflates it)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    )


def test_bit_depth_counts() -> None:
    image = pattern(100, 80)
    limits = Limits(max_decoded_bytes=100 * 80 * 3 * 2 - 1)
    assert len(process_image(_png(image), ONE, limits).renditions) == 1
    with pytest.raises(TooLargeDecoded, match=r"about 0\.048000 MB .*The limit is 0\.047999 MB"):
        process_image(_png(image, bits=16), ONE, limits)


def test_channels_count() -> None:
    limits = Limits(max_decoded_bytes=100 * 80 * 4 - 1)
    assert probe(make_image("png", 100, 80), limits).bands == 3
    with pytest.raises(TooLargeDecoded, match="4 channels"):
        probe(make_image("png", 100, 80, bands=4), limits)


def test_an_interlaced_png_counts_the_whole_picture_twice() -> None:
    image = pattern(100, 80)
    limits = Limits(max_decoded_bytes=100 * 80 * 3 * 2 - 1)
    assert probe(_png(image), limits).width == 100
    with pytest.raises(TooLargeDecoded, match="interlaced PNG"):
        probe(_png(image, interlace=True), limits)


def test_a_progressive_jpeg_counts_its_coefficients() -> None:
    image = pattern(100, 80)
    limits = Limits(max_decoded_bytes=100 * 80 * 3 * 2 - 1)
    assert probe(bytes(image.jpegsave_buffer()), limits).width == 100
    with pytest.raises(TooLargeDecoded, match="progressive JPEG"):
        probe(bytes(image.jpegsave_buffer(interlace=True)), limits)


def test_the_reported_16_bit_interlaced_png_is_refused_by_default_and_an_8_bit_one_is_not() -> None:
    """7000x7000 is 49 MP, under the 50 MP cap: pixels alone let these through."""
    with pytest.raises(TooLargeDecoded, match="7000x7000"):
        probe(_png_header(7000, 7000, 16, 6, 1), Limits())
    assert probe(_png_header(7000, 7000, 8, 2, 0), Limits()).width == 7000


def _avif_declaring(width: int, height: int, bits: int) -> bytes:
    """A small AVIF whose ``ispe`` box (the size its header declares) is rewritten."""
    image = pattern(64, 64, bands=4)
    if bits > 8:
        image = (image.cast("ushort") * 16).cast("ushort").copy(interpretation="rgb16")
    data = bytearray(image.heifsave_buffer(compression="av1", effort=0, bitdepth=bits))
    at = data.index(b"ispe") + 8  # size, "ispe", version and flags
    data[at : at + 8] = struct.pack(">II", width, height)
    return bytes(data)


def test_the_reported_12_bit_rgba_avif_is_refused_before_decoding() -> None:
    data = _avif_declaring(7000, 7000, 12)
    with pytest.raises(TooLargeDecoded, match="AVIF decoding") as caught:
        probe(data, Limits())
    assert caught.value.http_status == 422
    assert caught.value.code == "too_large_decoded"


def test_an_avif_phone_photo_fits_the_default_budget() -> None:
    facts = probe(_avif_declaring(4032, 3024, 8), Limits())
    assert (facts.width, facts.height) == (4032, 3024)


def _heic(width: int, height: int, bits: int) -> bytes:
    rgb = np.asarray(pattern(width, height).write_to_memory(), dtype=np.uint8)
    if bits == 8:
        heif = pillow_heif.from_bytes(mode="RGB", size=(width, height), data=rgb.tobytes())
    else:
        heif = pillow_heif.from_bytes(mode="RGB;16", size=(width, height), data=(rgb.astype(np.uint16) * 257).tobytes())
    out = BytesIO()
    heif.save(out, quality=90)
    return out.getvalue()


def test_a_10_bit_heic_counts_its_bit_depth() -> None:
    limits = Limits(max_decoded_bytes=64 * 48 * 3 * 2 * 2 - 1)
    assert probe(_heic(64, 48, 8), limits).width == 64
    with pytest.raises(TooLargeDecoded, match="HEIF decoding holds about 4 bytes"):
        probe(_heic(64, 48, 10), limits)


def test_a_heic_with_padded_rows_keeps_its_pixels() -> None:
    """libvips reads libheif's buffer in place: rows padded to the stride must not shear the picture."""
    width, height = 101, 37
    recipe = Recipe(name="same", renditions=(Rendition(name="s", format="png"),))
    out = decode(process_image(_heic(width, height, 8), recipe, Limits()).renditions[0].data)
    assert (out.width, out.height) == (width, height)
    assert mad(out, pattern(width, height)) < 4.0
    assert mad(out, pattern(width, height).fliphor()) > 20.0


def test_an_animation_counts_every_frame() -> None:
    frames = [(pattern(40, 30) + 40 * i).cast("uchar") for i in range(5)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 30)
    gif = bytes(strip.gifsave_buffer())
    limits = Limits(max_decoded_bytes=40 * 30 * 4 * 5 - 1)
    with pytest.raises(TooLargeDecoded, match="x 5 frames"):
        probe(gif, limits)
    assert probe(gif, Limits(max_decoded_bytes=40 * 30 * 4 * 5)).frames == 5


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?(?= MP| MB)", text)


def test_limit_messages_show_numbers_that_differ() -> None:
    data = make_image("png", 448, 447)  # 200,256 px
    with pytest.raises(TooManyPixels) as caught:
        probe(data, Limits(max_pixels=200_000))
    shown, cap = _numbers(caught.value.message)
    assert shown != cap
    assert float(shown) > float(cap)
    assert caught.value.message.endswith(".")


def test_limit_messages_are_sentences_not_python_values() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        probe(make_image("jpeg", 8, 8), Limits(accept=("png", "webp")))
    message = caught.value.message
    assert "png, webp" in message
    for python in ("(", ")", "'", "[", "]"):
        assert python not in message


def test_the_estimate_per_format() -> None:
    assert Decode("jpeg", 100, 10, 3).bytes == 3000
    assert Decode("png", 100, 10, 4, sample=2).bytes == 8000
    assert Decode("png", 100, 10, 4, sample=2, interlaced=True).bytes == 16000
    assert Decode("jpeg", 100, 10, 3, interlaced=True).bytes == 6000
    assert Decode("heif", 100, 10, 3, sample=2).bytes == 12000
    assert Decode("avif", 100, 10, 4, sample=2).bytes == Decode("avif", 100, 10, 4).bytes == 20000
    assert Decode("gif", 100, 10, 4, frames=3).bytes == 12000
