"""``imgflow process`` into a pipe loads only what it uses: no Rich (its progress bar and table are
for terminals), no YAML parser without a config file, no on-demand links, records or ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LOADED = """
import atexit, sys
def report():
    heavy = {m for m in sys.modules if m.split(".")[0] in ("rich", "yaml")}
    heavy |= {m for m in sys.modules if m in ("imgflow.ondemand.links", "imgflow.ondemand.resolve")}
    print("LOADED", sorted(heavy), file=sys.stderr)
atexit.register(report)
from imgflow.cli.main import app
app()
"""


def test_process_into_a_pipe_skips_rich_yaml_and_the_ondemand_links(corpus: Path, tmp_path: Path) -> None:
    photo = corpus / "photos" / "coffee.png"
    command = [sys.executable, "-c", LOADED, "process", str(photo), "--out", str(tmp_path / "out"), "--jobs", "1"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr, done.stderr[-2000:]
    header, row, total = done.stdout.splitlines()
    assert header.split("\t") == ["file", "result", "time ms", "input", "output"]
    assert row.split("\t")[:2] == [str(photo), f"ok: {tmp_path / 'out' / 'coffee'}"]
    assert total.split("\t")[:2] == ["total (1 file)", "1 ok, 0 failed"]
    assert total.split("\t")[3:] == row.split("\t")[3:]  # one file: the sums are its sizes
    assert sorted(p.name for p in (tmp_path / "out" / "coffee").iterdir())[:2] == ["large.jpg", "large.webp"]
