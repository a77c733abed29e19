"""Format sniffing uses magic bytes only: checked against the corpus manifest's Pillow probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgflow.sniff import SNIFF_BYTES, content_type, sniff

PILLOW_TO_OURS = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "TIFF": "tiff",
    "BMP": "bmp",
    "AVIF": "avif",
    "HEIF": "heif",
    "EPS": "eps",
}


def _rows(corpus: Path) -> list[dict[str, object]]:
    return [
        r for r in json.loads((corpus / "manifest.json").read_text())["files"] if not r["file"].startswith("events/")
    ]


def test_every_probed_corpus_image_sniffs_as_pillow_identified_it(corpus: Path) -> None:
    checked = 0
    for row in _rows(corpus):
        probe = row.get("pillow_probe") or {}
        fmt = probe.get("format") if isinstance(probe, dict) else None
        if fmt not in PILLOW_TO_OURS:
            continue
        head = (corpus / str(row["file"])).read_bytes()[:SNIFF_BYTES]
        assert sniff(head) == PILLOW_TO_OURS[str(fmt)], row["file"]
        checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("edge/other/logo.svg", "svg"),
        ("edge/other/fli_overrun.bin", None),
        ("edge/other/pcx_overrun.bin", None),
        ("edge/webp/looks-like-svg.webp", "webp"),
        ("edge/tiff/timeout-6646305047838720", "tiff"),
        ("edge/heif-avif/hopper.heif", "heif"),
        ("edge/heif-avif/17000x17000.avif", "avif"),
        ("edge/heif-avif/star.avifs", "avif"),
    ],
)
def test_edge_files(corpus: Path, name: str, expected: str | None) -> None:
    assert sniff((corpus / name).read_bytes()[:SNIFF_BYTES]) == expected


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"hello world", b"<html><body>", b"RIFF\x00\x00\x00\x00WAVE"])
def test_not_images(data: bytes) -> None:
    assert sniff(data) is None


def test_content_types() -> None:
    assert content_type("jpeg") == "image/jpeg"
    assert content_type("nope") == "application/octet-stream"
