"""`make package`'s script: manylinux wheels for Python 3.12, no boto3, the API without the image engine."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .cfn import ROOT

pytestmark = pytest.mark.slow

MIB = 2**20


def _build(target: str, tmp_path: Path) -> tuple[Path, Path, str]:
    out, archive = tmp_path / target, tmp_path / f"{target}.zip"
    cmd = [sys.executable, str(ROOT / "packaging" / "package.py"), target, "--out", str(out), "--zip", str(archive)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, archive, proc.stdout


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize(("target", "goal_mib"), [("api", 30), ("processor", 100)])
def test_artefact(tmp_path: Path, target: str, goal_mib: int) -> None:
    out, archive, printed = _build(target, tmp_path)
    top = {p.name for p in out.iterdir()}
    assert not {"boto3", "botocore", "s3transfer"} & top  # the runtime has them
    engine = {"pyvips", "_libvips.abi3.so", "PIL", "pillow_heif"}
    if target == "api":
        assert not engine & top
    else:
        assert engine <= top
        assert any(p.name.startswith("libvips") for p in (out / "pyvips_binary.libs").iterdir())
    # wheels for the Lambda runtime (CPython 3.12 on Linux), not for this machine's Python
    assert any(p.name.endswith("cpython-312-x86_64-linux-gnu.so") for p in (out / "pydantic_core").iterdir())
    for module in ("api_handler", "processor", "reconciler"):
        assert (out / "imgflow" / "runtimes" / "aws" / f"{module}.py").is_file()
    assert _size(out) <= goal_mib * MIB
    assert f"{target} (x86_64)" in printed
    assert "unzipped" in printed
    assert "zipped" in printed
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert "imgflow/runtimes/aws/processor.py" in names
    assert "mangum/__init__.py" in names
