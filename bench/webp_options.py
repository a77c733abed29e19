"""``python -m bench.webp_options``: libvips' WebP encoder options against Pillow's, at equal output.

The 2048 px rendition (where the WebP encode costs most) of the 20 MP and the 13 MP bench photos,
made once with libvips; then, interleaved over rounds in one process, libvips with one thread, the same
pixels encoded by Pillow (quality 80, method 4: the well-written engine's WebP) and by libvips
with each option set. For each: the CPU-time median, the size, and SSIM against the pixels
encoded (luma, 11x11 Gaussian window, computed with libvips), so that a faster setting is judged
at equal size and quality, not at equal arguments. Prints one table per photo.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

os.environ.setdefault("VIPS_CONCURRENCY", "1")

import pyvips
from PIL import Image

from bench import inputs

PHOTOS = {"20mp": "photos/Kleiber_by_Lukas_Baubkus.jpg", "13mp-progressive": "photos/Dragonfly_by_Bolly.jpg"}
#: name -> webpsave arguments; the first is imgflow's own (the recipe's WebP q80 effort 4)
OPTIONS: dict[str, dict[str, Any]] = {
    "libvips Q80 effort 4 (imgflow)": {"Q": 80, "effort": 4},
    "libvips Q80 effort 3": {"Q": 80, "effort": 3},
    "libvips Q80 effort 4 preset photo": {"Q": 80, "effort": 4, "preset": "photo"},
    "libvips Q80 effort 4 preset picture": {"Q": 80, "effort": 4, "preset": "picture"},
    "libvips Q80 effort 4 smart_subsample": {"Q": 80, "effort": 4, "smart_subsample": True},
    "libvips Q80 effort 2": {"Q": 80, "effort": 2},
    "libvips Q84 effort 2 (SSIM of Q80 e4)": {"Q": 84, "effort": 2},
    "libvips Q78 effort 3 (size of Q80 e4)": {"Q": 78, "effort": 3},
}


def luma(image: pyvips.Image) -> pyvips.Image:
    return image.colourspace("b-w")[0].cast("float")


def ssim(reference: pyvips.Image, data: bytes) -> float:
    """Mean SSIM of the luma of ``data`` (decoded) against ``reference``'s (Wang et al., sigma 1.5)."""
    x, y = luma(reference), luma(pyvips.Image.new_from_buffer(data, "", access="sequential").copy_memory())
    blur: Callable[[pyvips.Image], pyvips.Image] = lambda im: im.gaussblur(1.5, precision="float")  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    index = ((mx * my * 2 + c1) * (sxy * 2 + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.avg())


def encoders(image: pyvips.Image) -> dict[str, Callable[[], bytes]]:
    pixels = Image.frombytes("RGB", (image.width, image.height), image.write_to_memory())

    def pillow() -> bytes:
        out = io.BytesIO()
        pixels.save(out, "WEBP", quality=80, method=4)
        return out.getvalue()

    made: dict[str, Callable[[], bytes]] = {"Pillow quality 80 method 4 (well-written engine)": pillow}
    for name, kwargs in OPTIONS.items():
        made[name] = partial(_vips, image, kwargs)
    return made


def _vips(image: pyvips.Image, kwargs: dict[str, Any]) -> bytes:
    return bytes(image.webpsave_buffer(keep="none", **kwargs))


def measure(path: str, rounds: int) -> list[dict[str, Any]]:
    image = pyvips.Image.thumbnail(path, 2048, height=2048, size="down").copy_memory()
    made = encoders(image)
    cpu: dict[str, list[float]] = {name: [] for name in made}
    out: dict[str, bytes] = {}
    for r in range(rounds + 1):  # round 0 warms up
        names = list(made)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.process_time()
            out[name] = made[name]()
            if r:
                cpu[name].append((time.process_time() - start) * 1000)
    pillow_ms = statistics.median(cpu[next(iter(made))])
    rows = []
    for name in made:
        ms = statistics.median(cpu[name])
        rows.append({"encoder": name, "cpu_ms": round(ms, 1), "vs_pillow": round(ms / pillow_ms, 2),
                     "bytes": len(out[name]), "ssim": round(ssim(image, out[name]), 5)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webp_options", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    corpus = inputs.corpus_dir()
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, one thread, {args.rounds} rounds")
    for key, name in PHOTOS.items():
        print(f"\n**{key}** ({name}, the 2048 px rendition)\n")
        print("| encoder | CPU ms | / Pillow | bytes | SSIM |\n|---|---|---|---|---|")
        for row in measure(str(corpus / name), args.rounds):
            print(f"| {row['encoder']} | {row['cpu_ms']} | {row['vs_pillow']} | {row['bytes']:,} | {row['ssim']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
