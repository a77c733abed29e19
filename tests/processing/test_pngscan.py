"""PNG text-chunk decompression bombs are refused before any decoder; ordinary text is not."""

from __future__ import annotations

import struct
import zlib

import pytest
from proc_helpers import make_image

from imgflow.errors import TooLargeDecoded
from imgflow.processing import process_image
from imgflow.processing.pngscan import MAX_TEXT_BYTES, check_text_chunks
from imgflow.recipes import Limits, default_recipe


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _with_text(png: bytes, chunk: bytes) -> bytes:
    # after the signature and IHDR (8 + 25 bytes)
    return png[:33] + chunk + png[33:]


def _ztxt(size: int) -> bytes:
    return _chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * size, 9))


def _itxt(size: int) -> bytes:
    return _chunk(b"iTXt", b"Comment\0\x01\0en\0Comment\0" + zlib.compress(b"a" * size, 9))


@pytest.mark.parametrize("chunk", [_ztxt(MAX_TEXT_BYTES * 4), _itxt(MAX_TEXT_BYTES * 4)], ids=["zTXt", "iTXt"])
def test_a_text_bomb_is_refused_before_decoding(chunk: bytes) -> None:
    bomb = _with_text(make_image("png", 8, 8), chunk)
    assert len(bomb) < 20_000  # a few KB that inflate to 4 MiB
    with pytest.raises(TooLargeDecoded, match="decompression bomb"):
        check_text_chunks(bomb)
    with pytest.raises(TooLargeDecoded):
        process_image(bomb, default_recipe(), Limits())


def test_ordinary_compressed_text_processes() -> None:
    fine = _with_text(make_image("png", 8, 8), _ztxt(100_000) + _itxt(1000))
    check_text_chunks(fine)
    assert process_image(fine, default_recipe(), Limits()).renditions
