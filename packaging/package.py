"""Build a Lambda artefact: manylinux wheels for Python 3.12 plus imgflow's source.

    python packaging/package.py api|processor [--arch x86_64|arm64] [--out DIR] [--zip FILE]

The dependencies are the project's own (pyproject.toml): the core plus the
``aws`` extra, and for the processor the ``processing`` extra too. boto3 and
botocore are left out: the Lambda runtime has them. ``sam build`` calls this
through the Makefile's ``build-<Function>`` targets with ``--out $(ARTIFACTS_DIR)``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.12"
#: the runtime provides these; never ship them
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
#: the image engine: the API never imports it (an import-linter contract)
ENGINE = {"pyvips", "pyvips-binary", "pillow", "pillow-heif", "blurhash", "cffi", "pycparser"}
EXTRAS = {"api": ["aws"], "processor": ["aws", "processing"]}
#: what each artefact should stay under, unzipped (printed, and a warning past it)
GOALS_MIB = {"api": 30, "processor": 100}
#: published as source only, but pure Python: built into a py3-none-any wheel first
PURE_SDISTS = {"pyvips"}
#: top-level names a wheel may install for a distribution name that differs
_TOP_LEVEL = {"pillow": ["PIL"], "pyyaml": ["yaml", "_yaml"], "pillow-heif": ["pillow_heif"]}


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise SystemExit(f"cannot read requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements(target: str) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS[target]:
        reqs += project["optional-dependencies"][extra]
    return [r for r in reqs if _name(r) not in RUNTIME_PROVIDED and not r.startswith("imgflow")]


def pure_wheels(reqs: list[str], wheelhouse: Path) -> None:
    wanted = [r for r in reqs if _name(r) in PURE_SDISTS]
    if not wanted:
        return
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheelhouse), *wanted]
    subprocess.run(cmd, check=True)
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.endswith("-py3-none-any.whl"):
            raise SystemExit(f"{wheel.name} is not a pure-Python wheel; it cannot go into a Lambda artefact")


def pip_install(reqs: list[str], out: Path, arch: str, wheelhouse: Path) -> None:
    pure_wheels(reqs, wheelhouse)
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(out), "--upgrade", "--no-warn-conflicts",
        "--platform", f"manylinux_2_28_{arch}", "--platform", f"manylinux2014_{arch}",
        "--python-version", PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:",
        "--find-links", str(wheelhouse), *reqs,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def _remove_distribution(out: Path, name: str) -> None:
    folder = name.replace("-", "_")
    for dist_info in out.glob("*.dist-info"):
        if _name(dist_info.name.split("-")[0]) == name:
            shutil.rmtree(dist_info)
    for top in [folder, *_TOP_LEVEL.get(name, [])]:
        path = out / top
        if path.is_dir():
            shutil.rmtree(path)
        for file in out.glob(f"{top}*.so"):
            file.unlink()
    libs = out / f"{folder}.libs"
    if libs.is_dir():
        shutil.rmtree(libs)


def prune(out: Path, target: str) -> None:
    banned = set(RUNTIME_PROVIDED) | (ENGINE if target == "api" else set())
    for name in banned:
        _remove_distribution(out, name)
    for cache in list(out.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out / "bin", ignore_errors=True)


def copy_source(out: Path) -> None:
    dest = out / "imgflow"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ROOT / "src" / "imgflow", dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_zip(src: Path, dest: Path) -> None:
    """Deterministic: sorted entries, fixed timestamps, fixed permissions."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(dest)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def build(target: str, arch: str, out: Path, zip_path: Path | None) -> None:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"imgflow-{target}-") as tmp:
        staging = Path(tmp) / "pkg"
        wheelhouse = Path(tmp) / "wheels"
        wheelhouse.mkdir()
        pip_install(requirements(target), staging, arch, wheelhouse)
        prune(staging, target)
        copy_source(staging)
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in staging.iterdir():
            shutil.move(str(child), out / child.name)
    size = tree_size(out)
    line = f"{target} ({arch}): {mib(size)} unzipped (goal <= {GOALS_MIB[target]} MiB)"
    if zip_path is not None:
        write_zip(out, zip_path)
        line += f", {mib(zip_path.stat().st_size)} zipped -> {zip_path}"
    print(line)
    if size > GOALS_MIB[target] * 2**20:
        print(f"warning: the {target} artefact is over its goal", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=sorted(EXTRAS))
    parser.add_argument("--arch", choices=["x86_64", "arm64", "aarch64"], default="x86_64")
    parser.add_argument("--out", type=Path, help="folder to fill (default build/<target>)")
    parser.add_argument("--zip", type=Path, help="also write this zip file")
    args = parser.parse_args(argv)
    arch = "aarch64" if args.arch in ("arm64", "aarch64") else "x86_64"
    build(args.target, arch, args.out or ROOT / "build" / args.target, args.zip)


if __name__ == "__main__":
    main()
