"""Build a Lambda artefact: manylinux wheels for Python 3.12, imgflow's source, bytecode, fonts.

    python packaging/package.py api|processor [--arch x86_64|arm64|sam] [--out DIR] [--zip FILE] [--wheelhouse DIR]
    python packaging/package.py wheelhouse [--dest DIR]

The dependencies are the project's own (pyproject.toml): the core plus the
``aws`` extra, and for the processor the ``processing`` extra too. boto3 and
botocore are left out: the Lambda runtime has them. The ``api`` artefact (no
image engine) serves the API and the reconcile sweep.

``sam build`` calls this through the Makefile's ``build-<Function>`` targets with
``--arch sam --out $(ARTIFACTS_DIR)``: SAM runs them in ``packaging/<Architecture>``
(the template's ``WorkingDirectory``, where SAM resolves the ``Architecture``
parameter, overrides included), so the folder's name is the architecture.

``wheelhouse`` downloads every wheel both architectures need; ``--wheelhouse``
then installs from it with no network (the tests' builds do).

Bytecode is compiled by a CPython 3.12 (the runtime's) with
``--invalidation-mode unchecked-hash``: a zip's fixed timestamps would make
timestamp-checked ``.pyc`` files stale, and ``/var/task`` is read-only, so
Lambda would recompile every module at every cold start.
"""

from __future__ import annotations

import argparse
import json
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
#: the Lambda architecture name -> the manylinux machine name
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
#: the runtime provides these; never ship them
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
#: the command line's and the local server's: no Lambda entry point imports them (the built artefacts'
#: import check in tests/aws/test_sam_build.py fails if one does)
LOCAL_ONLY = {"typer", "rich", "pygments", "markdown-it-py", "mdurl", "shellingham", "click", "uvicorn"}
#: the image engine: the API never imports it (an import-linter contract)
ENGINE = {"pyvips", "pyvips-binary", "pillow", "pillow-heif", "blurhash", "cffi", "pycparser"}
EXTRAS = {"api": ["aws"], "processor": ["aws", "processing"]}
#: what each artefact should stay under, unzipped (printed, and a warning past it)
GOALS_MIB = {"api": 30, "processor": 100}
#: published as source only, but pure Python: built into a py3-none-any wheel first
PURE_SDISTS = {"pyvips"}
#: top-level names a wheel may install for a distribution name that differs
_TOP_LEVEL = {
    "pillow": ["PIL"],
    "pyyaml": ["yaml", "_yaml"],
    "pillow-heif": ["pillow_heif"],
    "markdown-it-py": ["markdown_it"],
}
#: where the function's code lies on Lambda (tracebacks name these paths)
TASK_ROOT = "/var/task"
#: text watermarks: Lambda has no fonts. DejaVu Sans (Debian's fonts-dejavu-core), licence beside it.
FONT_SOURCE = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT_LICENCE = Path("/usr/share/doc/fonts-dejavu-core/copyright")
FONTS_DIR = "fonts"
#: the wheelhouse's folder for the runtime's own SDK (boto3), used only to try the artefacts here
SDK = "sdk"


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


def _platform_args(machine: str) -> list[str]:
    return [
        "--platform", f"manylinux_2_28_{machine}", "--platform", f"manylinux2014_{machine}",
        "--python-version", PYTHON_VERSION, "--implementation", "cp", "--only-binary=:all:",
    ]  # fmt: skip


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    subprocess.run(cmd, check=True)


def pure_wheels(reqs: list[str], dest: Path) -> None:
    wanted = [r for r in reqs if _name(r) in PURE_SDISTS]
    if wanted:
        _pip("wheel", "--no-deps", "--wheel-dir", str(dest), *wanted)
    for wheel in dest.glob("*.whl"):
        if _name(wheel.name.split("-")[0]) in PURE_SDISTS and not wheel.name.endswith("-py3-none-any.whl"):
            raise SystemExit(f"{wheel.name} is not a pure-Python wheel; it cannot go into a Lambda artefact")


def fill_wheelhouse(dest: Path) -> None:
    """Every wheel both artefacts need, for both architectures (``dest/<machine>/*.whl``), and the
    AWS SDK the Lambda runtime provides (``dest/sdk``), for the artefacts' import checks and ``make coldstart``."""
    reqs = sorted(set(requirements("api")) | set(requirements("processor")))
    for machine in sorted(set(MACHINES.values())):
        folder = dest / machine
        folder.mkdir(parents=True, exist_ok=True)
        pure_wheels(reqs, folder)
        _pip("download", "--dest", str(folder), "--find-links", str(folder), *_platform_args(machine), *reqs)
        print(f"wheelhouse {machine}: {len(list(folder.glob('*.whl')))} wheels in {folder}")
    sdk = dest / SDK
    _pip("download", "--dest", str(sdk), *_platform_args("x86_64"), "boto3")


def install_sdk(wheelhouse: Path | None, out: Path) -> None:
    """boto3 for CPython 3.12, as the Lambda runtime has it (pure Python: any architecture)."""
    source = ["--no-index", "--find-links", str(wheelhouse / SDK)] if wheelhouse else []
    _pip("install", "--target", str(out), "--upgrade", "--no-compile", *_platform_args("x86_64"), *source, "boto3")


def pip_install(reqs: list[str], out: Path, machine: str, wheelhouse: Path | None, tmp: Path) -> None:
    if wheelhouse is None:  # from the index
        pure_wheels(reqs, tmp)
        source = ["--find-links", str(tmp)]
    else:  # offline, from `make setup`'s wheelhouse
        folder = wheelhouse / machine
        if not folder.is_dir():
            raise SystemExit(f"no wheelhouse for {machine} at {folder}: run `make setup` (or package.py wheelhouse)")
        source = ["--no-index", "--find-links", str(folder)]
    _pip(
        "install", "--target", str(out), "--upgrade", "--no-warn-conflicts", "--no-compile",
        *_platform_args(machine), *source, *reqs,
    )  # fmt: skip


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
    banned = RUNTIME_PROVIDED | LOCAL_ONLY | (ENGINE if target == "api" else set())
    for name in banned:
        _remove_distribution(out, name)
    for cache in list(out.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out / "bin", ignore_errors=True)


def copy_source(out: Path) -> None:
    """The package, without bytecode and without ``imgflow.cli``: Lambda has no command line, and
    the CLI's own libraries (typer, rich) are not shipped, so it could not even import there."""
    dest = out / "imgflow"
    shutil.rmtree(dest, ignore_errors=True)
    source = ROOT / "src" / "imgflow"
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")

    def ignore(folder: str, names: list[str]) -> set[str]:
        return set(caches(folder, names)) | ({"cli"} if Path(folder) == source else set())

    shutil.copytree(source, dest, ignore=ignore)


def copy_fonts(out: Path) -> None:
    """The fonts text watermarks use, their licence, and the fonts.conf the template points FONTCONFIG_FILE at."""
    dest = out / FONTS_DIR
    dest.mkdir(exist_ok=True)
    missing = [f for f in FONT_FILES if not (FONT_SOURCE / f).is_file()]
    if missing or not FONT_LICENCE.is_file():
        raise SystemExit(f"fonts-dejavu-core is not installed (missing {missing or FONT_LICENCE}): run `make setup`")
    for name in FONT_FILES:
        shutil.copyfile(FONT_SOURCE / name, dest / name)
    shutil.copyfile(FONT_LICENCE, dest / "LICENSE.DejaVu")
    shutil.copyfile(ROOT / "packaging" / "fonts.conf", dest / "fonts.conf")


def lambda_python() -> str:
    """A CPython 3.12 to compile the runtime's bytecode: $LAMBDA_PYTHON, python3.12, or pyenv's 3.12."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.12")]
    candidates += [str(p) for p in sorted(pyenv.glob(f"versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == PYTHON_VERSION:
            return candidate
    raise SystemExit(f"no CPython {PYTHON_VERSION} found to compile the bytecode: install one or set LAMBDA_PYTHON")


def compile_bytecode(out: Path) -> None:
    cmd = [
        lambda_python(), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(out), "-p", TASK_ROOT, str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


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


def build(target: str, arch: str, out: Path, zip_path: Path | None, wheelhouse: Path | None) -> None:
    machine = MACHINES[arch]
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"imgflow-{target}-") as tmp:
        staging = Path(tmp) / "pkg"
        pip_install(requirements(target), staging, machine, wheelhouse, Path(tmp))
        prune(staging, target)
        copy_source(staging)
        if target == "processor":
            copy_fonts(staging)
        compile_bytecode(staging)
        stamp = {"target": target, "architecture": arch if arch != "aarch64" else "arm64", "python": PYTHON_VERSION}
        (staging / "imgflow-build.json").write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for child in staging.iterdir():
            shutil.move(str(child), out / child.name)
    size = tree_size(out)
    line = f"{target} ({machine}): {mib(size)} unzipped (goal <= {GOALS_MIB[target]} MiB)"
    if zip_path is not None:
        write_zip(out, zip_path)
        line += f", {mib(zip_path.stat().st_size)} zipped -> {zip_path}"
    print(line)
    if size > GOALS_MIB[target] * 2**20:
        print(f"warning: the {target} artefact is over its goal", file=sys.stderr)


def sam_architecture(cwd: Path) -> str:
    """The architecture ``sam build`` resolved: the name of the folder it runs the target in."""
    if cwd.name not in ("x86_64", "arm64"):
        raise SystemExit(
            f"--arch sam: expected to run in packaging/<x86_64|arm64> (the template's WorkingDirectory), not {cwd}"
        )
    asked = os.environ.get("ARCH")
    if asked and MACHINES.get(asked) != MACHINES[cwd.name]:
        raise SystemExit(
            f"ARCH={asked} but the template resolves Architecture={cwd.name}: "
            f"pass --parameter-overrides Architecture={asked} to sam build (and the same to sam deploy)"
        )
    return cwd.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=[*sorted(EXTRAS), "wheelhouse"])
    parser.add_argument("--arch", choices=[*MACHINES, "sam"], default="x86_64")
    parser.add_argument("--out", type=Path, help="folder to fill (default build/<target>)")
    parser.add_argument("--zip", type=Path, help="also write this zip file")
    parser.add_argument("--wheelhouse", type=Path, help="install offline from this wheelhouse")
    parser.add_argument("--dest", type=Path, default=ROOT / ".wheelhouse", help="wheelhouse: the folder to fill")
    args = parser.parse_args(argv)
    if args.target == "wheelhouse":
        fill_wheelhouse(args.dest.resolve())
        return
    arch = sam_architecture(Path.cwd()) if args.arch == "sam" else args.arch
    wheelhouse = args.wheelhouse.resolve() if args.wheelhouse else None
    build(args.target, arch, args.out or ROOT / "build" / args.target, args.zip, wheelhouse)


if __name__ == "__main__":
    main()
