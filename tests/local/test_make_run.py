"""``make run`` as a user types it: serve, one upload reaching done, then Ctrl+C (SIGINT) stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from local.conftest import server_env
from testkit import ROOT, free_port, wait_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found.append(child)
            found.extend(_descendants(child))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _dry_run(target: str) -> str:
    """What ``make TARGET`` would run on a fresh clone (``-B``: as if nothing were installed; ``-n``: run nothing)."""
    # as a user's shell runs it: not as a sub-make of `make test` (whose MAKEFLAGS/MAKELEVEL add
    # "Entering directory" lines and flags of its own)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_run_installs_only_what_serving_needs() -> None:
    run = _dry_run("run")
    assert "pip install --progress-bar on -e '.[processing,fast-jpeg]'" in run
    assert "fonts-dejavu-core" in run
    for heavy in (".[dev]", "checkov", "chromium", "playwright", "pytest"):
        assert heavy not in run, heavy
    assert run.strip().splitlines()[-1].startswith(".venv/bin/imgflow serve")
    test = _dry_run("test")  # make test (and make lint, which CI runs) still install everything
    for needed in (".[dev]", "checkov", "chromium"):
        assert needed in test, needed
    assert "pip install -q" not in run + test  # installs show their progress


def test_make_run_serves_processes_and_stops_on_sigint(tmp_path: Path, corpus: Path) -> None:
    stale = subprocess.run(["make", "-q", "run-setup"], cwd=ROOT, capture_output=True)
    if stale.returncode != 0:
        pytest.fail("stale setup stamps: `make run` would reinstall; run `make run-setup` first (make test does)")
    port = free_port()
    data_dir = tmp_path / "var"
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}", f"DATA_DIR={data_dir}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=server_env(),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", timeout=60, proc=make)
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
        assert f"imgflow is serving on {url}/" in log.read_text()

        data = (corpus / "photos/coffee.png").read_bytes()
        created = httpx.post(f"{url}/v1/uploads", json={"filename": "coffee.png", "content_type": "image/png",
                                                         "size": len(data)}).json()  # fmt: skip
        upload = created["upload"]
        landed = httpx.post(upload["url"], data=upload["fields"], files={"file": ("coffee.png", data, "image/png")})
        assert landed.status_code == 204
        image_id = created["image"]["image_id"]
        deadline = time.monotonic() + 60
        while (record := httpx.get(f"{url}/v1/images/{image_id}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, record
            time.sleep(0.1)
        assert record["status"] == "done"
        assert (data_dir / "imgflow.db").exists()

        family = _descendants(make.pid)
        serve = [p for p in family if "imgflow serve" in _cmdline(p)]
        workers = [p for p in family if "imgflow.runtimes.local worker" in _cmdline(p)]
        assert len(serve) == 1, [_cmdline(p) for p in family]
        assert len(workers) == len(os.sched_getaffinity(0))  # one per core by default
        os.kill(serve[0], signal.SIGINT)  # what Ctrl+C delivers
        assert make.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    messages = [x["message"] for x in lines]
    assert "workers stopped" in messages
    assert messages[-1] == "stopped"
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()
