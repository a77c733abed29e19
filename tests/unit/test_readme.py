"""The README's promises hold: it opens with the two commands, and CI calls the test one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _first_block(text: str) -> str:
    match = re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert match, "README has no code block"
    return match.group(1)


def test_readme_opens_with_run_and_test() -> None:
    readme = (ROOT / "README.md").read_text()
    first = _first_block(readme)
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.strip()]
    assert commands[:2] == ["make run", "make test"]
    # the block is the first thing after the title
    assert readme.index("```") < readme.index("\n\n", readme.index("# imgflow") + 10) + 3


def test_ci_calls_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.M)


def test_make_targets_exist_and_install_everything() -> None:
    for target in ("run", "test", "lint", "bench", "setup"):
        out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert "apt-get update" in makefile
    assert "apt-get install -y" in makefile
    assert "pip install" in makefile
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "pytest" in dry


def test_readme_process_commands_run(corpus: Path, tmp_path: Path) -> None:
    """Every `imgflow process` line in the README runs as written (photo names swapped for corpus files)."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    lines = [ln.split("#")[0].strip() for ln in readme.splitlines() if ln.startswith(".venv/bin/imgflow process")]
    assert len(lines) >= 2
    photo = corpus / "photos" / "coffee.png"
    for n, line in enumerate(lines):
        out = tmp_path / f"out{n}"  # each command's own folder: its outputs, not an earlier one's
        argv, inputs = [], []
        for word in shlex.split(line):
            if word in ("photo.jpg",):
                word = str(photo)
                inputs.append(photo)
            elif word == "scans/*.png":
                word = str(corpus / "edge" / "png" / "transparent.png")
                inputs.append(Path(word))
            elif word == "out/":
                word = str(out)
            argv.append(word)
        argv[0] = str(ROOT / argv[0])
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
        made = {p.relative_to(out).parts[0] for p in out.rglob("*.*")}
        assert made == {path.stem for path in inputs}, (line, made)
        assert any(out.rglob("*.webp")) or any(out.rglob("*.avif")), line
        for path in inputs:  # every input of every command made its renditions
            renditions = [p for p in (out / path.stem).glob("*.*") if p.suffix in (".jpg", ".png", ".webp", ".avif")]
            assert renditions, (line, path.name, sorted(p.name for p in out.rglob("*")))
