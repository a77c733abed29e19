"""The three inputs: two corpus photos as they are, and a 12 MP baseline JPEG with EXIF
Orientation=6 derived from a corpus photo at the start of every run."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the derived input's source, and its geometry as stored (it displays as 3000x4000)
ROTATED_SOURCE = "photos/Kleiber_by_Lukas_Baubkus.jpg"
ROTATED_SIZE = (4000, 3000)


@dataclass(frozen=True)
class Input:
    key: str
    label: str
    path: str
    width: int
    height: int
    bytes: int
    sha256: str

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "megapixels": round(self.megapixels, 2)}


def corpus_dir() -> Path:
    return Path(os.environ.get("IMGFLOW_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


def derive_rotated(corpus: Path, cache: Path) -> Path:
    """A 4000x3000 baseline JPEG (q90, 4:2:0) with EXIF Orientation=6, centre-cropped from a photo."""
    import pyvips

    target = cache / "rotated_12mp_orientation6.jpg"
    image = pyvips.Image.thumbnail(str(corpus / ROTATED_SOURCE), ROTATED_SIZE[0], height=ROTATED_SIZE[1], crop="centre")
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    image.jpegsave(str(target), Q=90, interlace=False, optimize_coding=False, keep="exif")
    return target


def describe(key: str, label: str, path: Path) -> Input:
    from PIL import Image

    data = path.read_bytes()
    with Image.open(path) as image:
        width, height = image.size
    return Input(key, label, str(path), width, height, len(data), hashlib.sha256(data).hexdigest())


def build(corpus: Path, cache: Path, keys: list[str] | None = None) -> list[Input]:
    if not (corpus / ROTATED_SOURCE).is_file():
        raise SystemExit(f"the corpus is absent at {corpus} (set IMGFLOW_CORPUS)")
    wanted = keys or ["20mp", "13mp-progressive", "12mp-exif6"]
    inputs: list[Input] = []
    for key in wanted:
        if key == "20mp":
            inputs.append(describe(key, "20 MP JPEG (Kleiber)", corpus / "photos/Kleiber_by_Lukas_Baubkus.jpg"))
        elif key == "13mp-progressive":
            inputs.append(describe(key, "13 MP progressive JPEG (Dragonfly)", corpus / "photos/Dragonfly_by_Bolly.jpg"))
        elif key == "12mp-exif6":
            inputs.append(describe(key, "12 MP baseline JPEG, EXIF Orientation=6", derive_rotated(corpus, cache)))
        else:
            raise SystemExit(f"unknown input {key!r}: choose from 20mp, 13mp-progressive, 12mp-exif6")
    return inputs
