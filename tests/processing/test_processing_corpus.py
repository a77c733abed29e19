"""Every photos/ and edge/ file of the corpus, its expected outcome in one table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from corpus_expected import EXPECTED, PROCESS
from proc_helpers import LIMITS, SMALL, decode, run

from imgflow.errors import ImgflowError
from imgflow.processing import probe


def _manifest_files(corpus: Path) -> set[str]:
    files: set[str] = set()
    section = ""
    for line in (corpus / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif section.startswith(("photos/", "edge/")) and line.startswith("| `"):
            files.add(section + re.match(r"\| `([^`]+)`", line).group(1))  # type: ignore[union-attr]
    return files


def test_the_table_covers_every_photo_and_edge_file(corpus: Path) -> None:
    assert set(EXPECTED) == _manifest_files(corpus)


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_corpus_file(corpus: Path, name: str, expected: str) -> None:
    path = corpus / name
    if expected != PROCESS:
        with pytest.raises(ImgflowError) as caught:
            run(path)
        assert caught.value.code == expected
        assert 0 < len(caught.value.message) <= 1024
        return
    result = run(path)
    facts = result.facts
    assert facts == probe(path.read_bytes(), LIMITS).model_copy(update={"blurhash": facts.blurhash})
    assert facts.blurhash
    assert len(result.renditions) == len(SMALL.renditions)
    upright_landscape = facts.oriented_width >= facts.oriented_height
    for rendered in result.renditions:
        image = decode(rendered.data)
        assert (image.width, image.get_page_height()) == (rendered.facts.width, rendered.facts.height)
        assert rendered.facts.width >= 1
        assert rendered.facts.height >= 1
        assert rendered.facts.bytes == len(rendered.data)
        fields = image.get_fields()
        assert not [f for f in fields if "exif" in f or "gps" in f.lower() or "xmp" in f], fields
        if rendered.facts.name == "still":  # contain: orientation of the picture kept
            assert (rendered.facts.width >= rendered.facts.height) == upright_landscape
            assert max(rendered.facts.width, rendered.facts.height) <= 160
