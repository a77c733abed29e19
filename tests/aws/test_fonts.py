"""Text watermarks on Lambda: the runtime has no fonts, the processor's artefact ships its own.

Each render runs in a process of its own (fontconfig reads its configuration once per
process): with the machine's fonts, with a fontconfig that knows only the fonts
packaging/package.py ships (as FONTCONFIG_FILE makes it on Lambda), and with an empty
fontconfig (the Lambda runtime without them). Compared by similarity, never bytes.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .cfn import load_packaging

package = load_packaging()

RENDER = """
import sys
import pyvips
from imgflow.processing.watermark import stamp
from imgflow.recipes import Watermark

base = pyvips.Image.black(480, 160, bands=3).copy(interpretation="srgb")
mark = Watermark(text="imgflow 2026", position="center", opacity=1.0, size=0.3, margin=0)
sys.stdout.buffer.write(stamp(base, mark).pngsave_buffer())
"""

EMPTY_CONF = """<?xml version="1.0"?>
<fontconfig><cachedir>{cache}</cachedir></fontconfig>
"""


def _render(tmp_path: Path, fontconfig: Path | None) -> np.ndarray:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTCONFIG")}
    if fontconfig is not None:
        env["FONTCONFIG_FILE"] = str(fontconfig)
        env["FONTCONFIG_PATH"] = str(fontconfig.parent)
    proc = subprocess.run([sys.executable, "-c", RENDER], capture_output=True, env=env, timeout=120, check=True)
    with Image.open(io.BytesIO(proc.stdout)) as img:
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def _ink_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(pixels > 0.5)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


@pytest.mark.slow
def test_the_shipped_font_renders_like_the_system_one(tmp_path: Path) -> None:
    artefact = tmp_path / "task"
    artefact.mkdir()
    package.copy_fonts(artefact)
    shipped_conf = artefact / package.FONTS_DIR / "fonts.conf"
    empty_conf = tmp_path / "empty" / "fonts.conf"
    empty_conf.parent.mkdir()
    empty_conf.write_text(EMPTY_CONF.format(cache=tmp_path / "fc-empty"), encoding="utf-8")

    system = _render(tmp_path, None)
    shipped = _render(tmp_path, shipped_conf)
    bare = _render(tmp_path, empty_conf)

    # with only the shipped fonts, the mark is the system's DejaVu Sans Bold: same place, same ink
    assert np.abs(shipped - system).mean() < 0.01
    box_system, box_shipped = _ink_box(system), _ink_box(shipped)
    assert all(abs(a - b) <= 3 for a, b in zip(box_system, box_shipped, strict=True)), (box_system, box_shipped)
    # without fonts (the Lambda runtime as it is) the text falls back to something else entirely
    assert np.abs(bare - system).mean() > 3 * np.abs(shipped - system).mean()
    _, _, left, right = _ink_box(bare)
    assert (right - left) < 0.8 * (box_system[3] - box_system[2])
