"""What the peer engines (thumbor, sharp) share: where `make bench-peers` installs them, whether
they are there, and the helper process (a thumbor server, a Node.js worker) each one drives.

A peer runs in a process of its own; the bench worker is only its client. Its CPU time and peak
resident set are read from that process's ``/proc/<pid>`` (the whole process, as for the other
engines), and its peak can be reset before each run like the worker's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.inputs import ROOT

THUMBOR_VENV = ROOT / ".venv-thumbor"
NODE_DIR = ROOT / "bench" / "peers" / "node"
INSTALL_HINT = "make bench-peers  (thumbor in .venv-thumbor, sharp under bench/peers/node)"


def thumbor_installed() -> bool:
    return (THUMBOR_VENV / "bin" / "thumbor").is_file()


def sharp_installed() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "sharp" / "package.json").is_file()


def installed(engine: str) -> bool:
    if engine == "thumbor":
        return thumbor_installed()
    if engine.startswith("sharp"):
        return sharp_installed()
    return True


def clock_ticks() -> int:
    import os

    return int(os.sysconf("SC_CLK_TCK"))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14, stime 15 (1-based, as in proc(5))
    return (int(fields[11]) + int(fields[12])) / clock_ticks()


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


class Staged:
    """Input bytes written once to a private folder, for peers that read files (thumbor's file
    loader, sharp's worker) rather than bytes handed over in memory; named by their sha256."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="imgflow-bench-peer-"))
        self._names: dict[str, str] = {}

    def name(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._names:
            (self.root / f"{digest[:16]}.jpg").write_bytes(data)
            self._names[digest] = f"{digest[:16]}.jpg"
        return self._names[digest]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def version(command: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    return done.stdout.strip() or "absent"


def versions() -> dict[str, str]:
    """The peers' versions for the run's header (``absent`` when not installed)."""
    out = {"thumbor": "absent", "thumbor_pillow": "absent", "sharp": "absent", "sharp_libvips": "absent"}
    if thumbor_installed():
        py = str(THUMBOR_VENV / "bin" / "python")
        code = "import importlib.metadata as m; print(m.version('thumbor'), m.version('pillow'))"
        found = version([py, "-c", code]).split()
        if len(found) == 2:
            out["thumbor"], out["thumbor_pillow"] = found
            out["thumbor_python"] = version([py, "-c", "import platform; print(platform.python_version())"])
    if sharp_installed():
        code = "const s=require('sharp'); console.log(s.versions.sharp, s.versions.vips)"
        found = version(["node", "-e", code], cwd=NODE_DIR).split()
        if len(found) == 2:
            out["sharp"], out["sharp_libvips"] = found
        out["node"] = version(["node", "--version"]).lstrip("v")
    return out
