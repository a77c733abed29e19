"""Decompression bombs are refused under a hard address-space limit; a 20 MP photo still fits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow.runtimes.local.env import WORKER_ENV

LIMIT_MB = 768

SNIPPET = """
import json, resource, sys
limit = int(sys.argv[1]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from imgflow.errors import ImgflowError
from imgflow.processing import process_image
from imgflow.recipes import Limits, default_recipe
data = open(sys.argv[2], "rb").read()
try:
    result = process_image(data, default_recipe(), Limits())
    out = {"ok": True, "renditions": len(result.renditions)}
except ImgflowError as exc:
    out = {"ok": False, "code": exc.code}
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps(out))
"""


def _bounded(path: Path) -> dict[str, object]:
    env = {**os.environ, **WORKER_ENV}  # as a worker runs: the allocator set by the engine
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(LIMIT_MB), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("edge/gif/decompression_bomb.gif", "too_many_pixels"),
        ("edge/gif/decompression_bomb_extents.gif", "too_many_pixels"),
        ("edge/heif-avif/17000x17000.avif", "too_many_pixels"),
        ("edge/bmp/reallybig.bmp", "unsupported_type"),
    ],
)
def test_bombs_are_refused_in_bounded_memory(corpus: Path, name: str, code: str) -> None:
    result = _bounded(corpus / name)
    assert result["ok"] is False
    assert result["code"] == code


@pytest.mark.slow
def test_a_20_megapixel_photo_fits_the_same_limit(corpus: Path) -> None:
    result = _bounded(corpus / "photos/Kleiber_by_Lukas_Baubkus.jpg")
    assert result == {"ok": True, "renditions": 6, "max_rss_mb": result["max_rss_mb"]}
    assert isinstance(result["max_rss_mb"], int)
    assert result["max_rss_mb"] < LIMIT_MB


def test_the_pixel_limit_message_tells_the_numbers_apart() -> None:
    """One pixel over: the message shows both counts in full, not "0.2 MP exceeds the 0.2 MP limit"."""
    import pyvips

    from imgflow.errors import TooManyPixels
    from imgflow.processing import probe
    from imgflow.recipes import Limits

    data = pyvips.Image.black(500, 400).write_to_buffer(".png")
    with pytest.raises(TooManyPixels) as info:
        probe(data, Limits(max_pixels=500 * 400 - 1))
    assert "500x400 = 0.200000 MP; the limit is 0.199999 MP" in info.value.message
