"""``python -m bench.cli_vs_cascade``: whole processes, one core: ``imgflow process`` against a bare
libvips cascade script making the same outputs (the reference row of docs/benchmarks.md).

Both run as fresh processes on the three bench inputs (20 MP, 13 MP progressive, 12 MP with
EXIF orientation 6), pinned to one core (``taskset -c 0``), libvips with one thread, and make the
default recipe's 18 outputs (2048/1024/256 px, each JPEG q82 and WebP q80 effort 4, no metadata).
The bare script is what a careful hand would write with pyvips: one shrink-on-load
``thumbnail`` to 2048, a cascade of ``resize`` from it, the encodes; no sniffing, limits, facts,
hashing, BlurHash or CLI. The runs interleave over rounds; medians are compared. Goal: imgflow
within 1.05x of the bare cascade (start-up included: the imports a command needs are its cost).

imgflow encodes WebP through Pillow's libwebp (:mod:`imgflow.processing.libwebp`, the same bytes
as libvips' webpsave, less CPU), so the script also runs with that one encoder swapped in: that
second ratio is start-up and bookkeeping alone, not the codec. The goal is judged on the first
(the script as a careful hand writes it with pyvips).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import inputs

GOAL = 1.05
BARE = r"""
import sys, pyvips
pyvips.cache_set_max(0)
out = sys.argv[1]
for n, path in enumerate(sys.argv[2:]):
    big = pyvips.Image.thumbnail(path, 2048, height=2048, size="down").copy_memory()
    medium = big.resize(1024 / max(big.width, big.height))
    thumb = medium.resize(256 / max(medium.width, medium.height))
    for name, image in (("large", big), ("medium", medium), ("thumb", thumb)):
        image.jpegsave(f"{out}/{n}-{name}.jpg", Q=82, keep="none", optimize_coding=image is not big)
        image.webpsave(f"{out}/{n}-{name}.webp", Q=80, effort=4, keep="none")
"""
#: the same script, WebP through imgflow's encoder (Pillow's libwebp) when it loads
BARE_FAST_WEBP = BARE.replace(
    'image.webpsave(f"{out}/{n}-{name}.webp", Q=80, effort=4, keep="none")',
    'open(f"{out}/{n}-{name}.webp", "wb").write(libwebp.encode(image, 80, 4) '
    'or image.webpsave_buffer(Q=80, effort=4, keep="none"))',
).replace(
    "import sys, pyvips",
    # the module alone, by its path: importing imgflow.processing would add the package's imports
    "import sys, pyvips, importlib.util\n"
    "spec = importlib.util.spec_from_file_location('libwebp', sys.argv.pop(1))\n"
    "libwebp = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(libwebp)",
)


def _libwebp_path() -> str:
    spec = importlib.util.find_spec("imgflow")
    assert spec is not None
    assert spec.origin is not None
    return str(Path(spec.origin).parent / "processing" / "libwebp.py")


def _env() -> dict[str, str]:
    return {**os.environ, "VIPS_CONCURRENCY": "1", "IMGFLOW_LIMITS__THREADS": "1", "OMP_NUM_THREADS": "1"}


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imgflow-cli-bench-") as tmp:
        root = Path(tmp)
        paths = [i.path for i in inputs.build(inputs.corpus_dir(), root)]
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        imgflow = Path(sys.executable).parent / "imgflow"
        commands = {
            "imgflow process (whole CLI)": [
                *pin,
                str(imgflow),
                "process",
                *paths,
                "--out",
                str(root / "a"),
                "--jobs",
                "1",
            ],
            "bare libvips cascade script": [*pin, sys.executable, "-c", BARE, str(root / "b"), *paths],
            "the same script, imgflow's WebP encoder": [
                *pin,
                sys.executable,
                "-c",
                BARE_FAST_WEBP,
                _libwebp_path(),
                str(root / "c"),
                *paths,
            ],
        }
        (root / "b").mkdir()
        (root / "c").mkdir()
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the page cache and the imports once
            _time(command)
        for round_ in range(args.rounds):
            order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
            for name in order:
                times[name].append(_time(commands[name]))
        folders = (("imgflow", "a"), ("bare", "b"), ("bare, imgflow's WebP", "c"))
        outputs = {name: len(list((root / d).rglob("*.*"))) for name, d in folders}
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["imgflow process (whole CLI)"] / medians["bare libvips cascade script"]
    same_codecs = medians["imgflow process (whole CLI)"] / medians["the same script, imgflow's WebP encoder"]
    print(f"whole processes, 1 core, 3 inputs -> outputs: {outputs}; {args.rounds} interleaved rounds")
    print("| command | median s | min-max s |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {medians[name]:.3f} | {min(values):.3f}-{max(values):.3f} |")
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"imgflow / bare cascade = {ratio:.2f} (goal <= {GOAL}: {verdict})")
    print(f"imgflow / the same script with imgflow's WebP encoder = {same_codecs:.2f} (start-up and bookkeeping)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
