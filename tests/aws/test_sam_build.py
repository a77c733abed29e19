"""`sam build` for both architectures, offline from `make setup`'s wheelhouse, and what it builds.

The AWS SAM CLI (in `.venv-sam`) runs the Makefile's build targets as it does for a deploy;
the only input that changes is the template's ``Architecture`` parameter. Every shared
object in every artefact must be for that architecture; the x86_64 artefacts, which run on
this machine, are then imported by a CPython 3.12 as Lambda would (the runtime's boto3 beside
them), without the image engine where the function must not need it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .cfn import ROOT, load_packaging

pytestmark = pytest.mark.slow

package = load_packaging()

SAM = ROOT / ".venv-sam" / "bin" / "sam"
WHEELHOUSE = ROOT / ".wheelhouse"
#: ELF e_machine per Lambda architecture
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
#: the artefact each function ships (the sweep needs no image engine: the API's small one)
#: the on-demand transform function renders: the processor's artefact
ARTEFACTS = {
    "ApiFunction": "api",
    "ProcessorFunction": "processor",
    "ReconcilerFunction": "api",
    "TransformFunction": "processor",
}
HANDLERS = {
    "ApiFunction": "imgflow.runtimes.aws.api_handler",
    "ProcessorFunction": "imgflow.runtimes.aws.processor",
    "ReconcilerFunction": "imgflow.runtimes.aws.reconciler",
    "TransformFunction": "imgflow.runtimes.aws.transform",
}
MIB = 2**20


def _sam_build(arch: str, build_dir: Path) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail("the AWS SAM CLI is not installed in .venv-sam (make setup installs it)")
    if not all((WHEELHOUSE / m).is_dir() for m in ("x86_64", "aarch64", package.SDK)):
        pytest.fail("no wheelhouse at .wheelhouse (make setup fills it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "ARCH", "IMGFLOW_"))}
    env.update(
        SAM_CLI_TELEMETRY="0",
        PIP_CONFIG_FILE=os.devnull,  # nothing but the wheelhouse: no index, no machine-wide find-links
        WHEELHOUSE=str(WHEELHOUSE),
    )
    cmd = [
        str(SAM), "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build_dir),
        "--parameter-overrides", f"Architecture={arch}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


class Builds:
    """One `sam build` per architecture, made on first use and shared by the module's tests."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.dirs: dict[str, Path] = {}

    def __call__(self, arch: str) -> Path:
        if arch not in self.dirs:
            build_dir = self.tmp.mktemp(f"sam-{arch}") / "build"
            _sam_build(arch, build_dir)
            self.dirs[arch] = build_dir
        return self.dirs[arch]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    return Builds(tmp_path_factory)


@pytest.fixture(params=["x86_64", "arm64"])
def built(request: pytest.FixtureRequest, builds: Builds) -> tuple[str, Path]:
    arch: str = request.param
    return arch, builds(arch)


def _elf_machine(path: Path) -> int | None:
    with path.open("rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def test_every_shared_object_matches_the_architecture(built: tuple[str, Path]) -> None:
    arch, build_dir = built
    for function in ARTEFACTS:
        machines = {p: _elf_machine(p) for p in (build_dir / function).rglob("*") if p.is_file()}
        elf = {p.relative_to(build_dir): m for p, m in machines.items() if m is not None}
        # pydantic_core and PyYAML; the processor adds libvips, Pillow, libheif, cffi ...
        assert len(elf) >= (2 if ARTEFACTS[function] == "api" else 8), (function, elf)
        wrong = {str(p): m for p, m in elf.items() if m != ELF_MACHINES[arch]}
        assert not wrong, wrong
        stamp = json.loads((build_dir / function / "imgflow-build.json").read_text(encoding="utf-8"))
        assert stamp == {"target": ARTEFACTS[function], "architecture": arch, "python": "3.12"}


def test_what_each_artefact_holds(built: tuple[str, Path]) -> None:
    _, build_dir = built
    for function, target in ARTEFACTS.items():
        out = build_dir / function
        top = {p.name for p in out.iterdir()}
        assert not {"boto3", "botocore", "s3transfer"} & top  # the runtime has them
        assert not {"typer", "rich", "pygments", "uvicorn", "click"} & top  # the CLI's and the local server's
        engine = {"pyvips", "_libvips.abi3.so", "PIL", "pillow_heif"}
        if target == "api":
            assert not engine & top, function
            assert "fonts" not in top
        else:
            assert engine <= top
            assert any(p.name.startswith("libvips") for p in (out / "pyvips_binary.libs").iterdir())
            fonts = {p.name for p in (out / package.FONTS_DIR).iterdir()}
            assert {*package.FONT_FILES, "fonts.conf", "LICENSE.DejaVu"} <= fonts
        assert package.tree_size(out) <= package.GOALS_MIB[target] * MIB, function
        handler = out / (HANDLERS[function].replace(".", "/") + ".py")
        assert handler.is_file()


def test_bytecode_survives_fixed_timestamps(built: tuple[str, Path]) -> None:
    """Every module has CPython 3.12 bytecode that is never checked against its source (flags = 1:
    hash-based, unchecked), so a zip's 1980 timestamps cannot make Lambda recompile it."""
    _, build_dir = built
    out = build_dir / "ApiFunction"
    sources = list((out / "imgflow").rglob("*.py")) + list((out / "pydantic").rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), source
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 1, (pyc, flags)


def test_the_built_template_points_at_the_artefacts(built: tuple[str, Path]) -> None:
    _, build_dir = built
    from samtranslator.yaml_helper import yaml_parse

    template: dict[str, Any] = yaml_parse((build_dir / "template.yaml").read_text(encoding="utf-8"))
    for function in ARTEFACTS:
        code = template["Resources"][function]["Properties"]["CodeUri"]
        assert (build_dir / code / "imgflow").is_dir(), function


def _python312() -> str:
    try:
        return package.lambda_python()
    except SystemExit as exc:
        pytest.fail(str(exc))


#: run in a fresh CPython 3.12 with only the artefact and the runtime's SDK on the path
IMPORT_CHECK = """
import importlib, json, sys
if sys.argv[2] == "no-engine":
    sys.modules["pyvips"] = None  # an import of the engine fails loudly
module = importlib.import_module(sys.argv[1])
module.wiring()
engines = ("pyvips", "PIL", "typer", "rich")
print(json.dumps(sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in engines)))
"""


def test_x86_64_handlers_import_and_wire_from_the_artefact(builds: Builds, tmp_path: Path) -> None:
    """As on Lambda: the artefact at the front of the path, the runtime's boto3 behind it, settings from
    the environment. The API and the sweep build their wiring without the image engine. (Only the
    x86_64 artefacts run on this machine; the arm64 ones are checked by their ELF headers.)"""
    build_dir = builds("x86_64")
    sdk = tmp_path / "sdk"
    package.install_sdk(WHEELHOUSE, sdk)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "IMGFLOW_"))}
    env.update(
        IMGFLOW_BACKEND="aws",
        IMGFLOW_AWS_REGION="eu-west-1",
        IMGFLOW_AWS_ENDPOINT_URL="http://127.0.0.1:9",  # never reached: wiring makes clients only
        IMGFLOW_UPLOADS_BUCKET="up",
        IMGFLOW_RENDITIONS_BUCKET="rend",
        IMGFLOW_TABLE_NAME="images",
        IMGFLOW_QUEUE_URL="http://127.0.0.1:9/123456789012/q",
        IMGFLOW_AUTH="jwt",
        IMGFLOW_ONDEMAND__KEYS='["an-on-demand-key-for-the-import-check"]',  # the stack reads them from a secret
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    for function, module in HANDLERS.items():
        no_engine = ARTEFACTS[function] == "api"
        env["PYTHONPATH"] = f"{build_dir / function}:{sdk}"
        cmd = [_python312(), "-s", "-c", IMPORT_CHECK, module, "no-engine" if no_engine else "-"]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, (function, proc.stderr[-3000:])
        loaded = json.loads(proc.stdout.strip().splitlines()[-1])
        assert not {m for m in loaded if m.split(".")[0] in ("typer", "rich")}, function
        if no_engine:
            assert loaded == [], (function, loaded)
        else:
            assert "pyvips" in loaded


def test_artefact_zips_deterministically(builds: Builds, tmp_path: Path) -> None:
    build_dir = builds("x86_64")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    package.write_zip(build_dir / "ApiFunction", first)
    package.write_zip(build_dir / "ApiFunction", second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert "imgflow/runtimes/aws/__pycache__/api_handler.cpython-312.pyc" in infos
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_processor_artefacts_encode_webp_through_pillows_libwebp(builds: Builds, tmp_path: Path) -> None:
    """The artefact keeps ``pillow.libs`` beside ``PIL``: on Lambda too WebP takes the fast path
    (imgflow.processing.libwebp), and it writes what libvips' own encoder writes."""
    build_dir = builds("x86_64")
    check = (
        "import pyvips\n"
        "from imgflow.processing import libwebp\n"
        "image = pyvips.Image.black(64, 48, bands=3).copy(interpretation='srgb') + 90\n"
        "fast = libwebp.encode(image.cast('uchar'), 80, 4)\n"
        "assert fast == image.cast('uchar').webpsave_buffer(Q=80, effort=4, keep='none'), 'not the same bytes'\n"
        "print(libwebp.version())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "IMGFLOW_"))}
    for function in (f for f, artefact in ARTEFACTS.items() if artefact == "processor"):
        env["PYTHONPATH"] = str(build_dir / function)
        proc = subprocess.run(
            [_python312(), "-s", "-c", check], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, (function, proc.stderr[-3000:])
        assert re.fullmatch(r"1\.\d+\.\d+", proc.stdout.strip()), (function, proc.stdout)
