"""``imgflow --help`` reads naturally and starts light: no placeholder like ``<bool>`` or ``{files}``,
and no image engine, web stack or AWS SDK imported to print it (each command imports what it needs
when it runs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow.cli.main import app

IMGFLOW = Path(sys.executable).parent / "imgflow"
HEAVY = ("pyvips", "PIL", "pillow_heif", "fastapi", "starlette", "uvicorn", "boto3", "botocore", "httpx", "rich")


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert {"process", "serve", "upload", "status"} <= set(names)
    return names


@pytest.mark.parametrize("args", [[], *([name] for name in _commands())])
def test_help_has_no_placeholders(args: list[str]) -> None:
    done = subprocess.run([str(IMGFLOW), *args, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith(f"Usage: imgflow {' '.join(args)}".rstrip())
    assert not re.search(r"<(bool|str|int|float|path|list\[[^]]*\])>", text, re.I), text
    assert not re.search(r"\{[a-z_]+\}", text), text
    assert "``" not in text


@pytest.mark.parametrize("args", [[], *([name] for name in _commands())])
def test_help_imports_no_engine_web_or_aws(args: list[str]) -> None:
    probe = (
        "import sys\n"
        f"sys.argv = ['imgflow', *{args!r}, '--help']\n"
        "from imgflow.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


@pytest.mark.parametrize("args", [[], ["config"], ["db"]])
def test_command_lists_are_never_cut_short(args: list[str]) -> None:
    """click cuts each summary at ~45 characters with "..."; ours show the help's first sentence whole."""
    import typer.main

    group = typer.main.get_command(app)
    for name in args:
        group = group.commands[name]  # type: ignore[attr-defined]
    env = {"COLUMNS": "80", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(IMGFLOW), *args, "--help"], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    listing = done.stdout.split("Commands:\n", 1)[1]
    assert "..." not in listing, listing
    entries = re.split(r"\n  (?=\S)", "\n" + listing.rstrip())[1:]
    assert sorted(e.split()[0] for e in entries) == sorted(group.commands)  # type: ignore[attr-defined]
    for entry in entries:
        summary = " ".join(entry.split()[1:])
        assert summary.endswith("."), entry  # a whole sentence, however long
        assert max(len(line) for line in entry.splitlines()) <= 80
