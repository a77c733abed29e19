"""Every ```sh block of the README and docs/ runs as written, against a real server, unless the line
before it marks it `<!-- sh: needs AWS -->` or `<!-- sh: needs a cluster -->`
(then it must at least parse). Commands show how to reach
imgflow (`.venv/bin/imgflow`), never a bare `imgflow` that is not on PATH after set-up."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.conftest import Server, server_env
from testkit import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEEDS_AWS = "<!-- sh: needs AWS -->"
#: PostgreSQL, an S3-compatible store, or a container engine (docs/cluster.md): parsed, not run here
NEEDS_CLUSTER = "<!-- sh: needs a cluster -->"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: what the docs write where a real value goes: the local default address and an example image id
EXAMPLE_URL = "http://127.0.0.1:8080"
EXAMPLE_ID = "01J9Z6K3M7Q2W8V4T0R5N1B6XC"
#: `make` in a block only has to name real targets: running `make test` inside the tests would recurse
PRELUDE = 'make() { command make --no-print-directory -n -C "$IMGFLOW_ROOT" "$@" >/dev/null; }\n'


def _blocks(page: Path) -> list[tuple[str, bool, str]]:
    text = page.read_text(encoding="utf-8")
    found = []
    for n, m in enumerate(re.finditer(r"^(<!-- sh: [^>]*-->\n)?```sh\n(.*?)^```", text, re.S | re.M)):
        marker = (m.group(1) or "").strip()
        assert marker in ("", NEEDS_AWS, NEEDS_CLUSTER), f"{page.name}: unknown marker {marker!r}"
        found.append((f"{page.relative_to(ROOT)} block {n}", marker in (NEEDS_AWS, NEEDS_CLUSTER), m.group(2)))
    return found


BLOCKS = [block for page in PAGES for block in _blocks(page)]


def test_the_docs_have_runnable_and_aws_blocks() -> None:
    assert sum(not aws for _, aws, _ in BLOCKS) >= 6
    assert sum(aws for _, aws, _ in BLOCKS) >= 5


@pytest.mark.parametrize(("where", "script"), [(w, s) for w, _, s in BLOCKS])
def test_every_block_parses_and_reaches_imgflow_by_its_path(where: str, script: str) -> None:
    done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, (where, done.stderr)
    for line in script.splitlines():
        code = line.split(" #")[0]
        # imgflow as a command word: at the start, after ; & | ( or $(, or after VAR=value assignments
        bare = re.search(r"(^|[;&|(])\s*([A-Za-z_]+=\S*\s+)*imgflow\s", code)
        assert not bare, f"{where}: bare `imgflow` in {line!r}"


@pytest.fixture
def scratch(tmp_path: Path, corpus: Path) -> Path:
    """A folder with the files the blocks name and the project's virtualenv at .venv."""
    photo = corpus / "edge/jpeg/hopper.jpg"
    for name in ("photo.jpg", "cat.jpg", "small.jpg"):
        shutil.copy(photo, tmp_path / name)
    for folder in ("more", "scans"):
        (tmp_path / folder).mkdir()
        shutil.copy(corpus / "photos/coffee.png", tmp_path / folder / "a.png")
    shutil.copy(ROOT / "imgflow.example.yaml", tmp_path)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return tmp_path


def _run(script: str, cwd: Path, server: Server, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**server_env(), "API": server.url, "IMGFLOW": server.url, "IMGFLOW_SERVER": server.url}
    environ.update(IMGFLOW_ROOT=str(ROOT), **env)
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", PRELUDE + script],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _done_image(server: Server, scratch: Path) -> str:
    image_id = str(server.upload_direct(scratch / "photo.jpg", "image/jpeg")["image_id"])
    deadline = time.monotonic() + 60
    while server.client.get(f"/v1/images/{image_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the example image did not get done"
        time.sleep(0.1)
    return image_id


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_runnable_block_runs_as_written(page: Path, server: Server, scratch: Path) -> None:
    runnable = [(where, script) for where, aws, script in _blocks(page) if not aws]
    image_id = _done_image(server, scratch)  # the image the examples' id stands for
    for where, script in runnable:
        script = script.replace(EXAMPLE_URL, server.url).replace(EXAMPLE_ID, image_id)
        done = _run(script, scratch, server)
        assert done.returncode == 0, (where, done.stdout[-3000:], done.stderr[-3000:])


def test_the_aws_smoke_test_runs_against_the_local_server(server: Server, scratch: Path) -> None:
    text = (ROOT / "docs" / "deploy-aws.md").read_text(encoding="utf-8")
    section = text.split("## Smoke test", 1)[1]
    script = section.split("```sh\n", 1)[1].split("```", 1)[0]
    done = _run(script, scratch, server, TOKEN="unused-locally")
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "204"
    assert json.loads(lines[-1])["status"] == "done"
