"""A short atheris session over the probe/decode entry point, and every input it (or ``make fuzz``)
ever caught misbehaving, replayed. Each runs the harness in a child process: a crash or a hang
fails the test instead of taking pytest down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow.runtimes.local.env import WORKER_ENV

HERE = Path(__file__).parent
HARNESS = HERE / "fuzz_decode.py"
SEEDS = HERE / "fuzz_seeds"
REGRESSIONS = HERE / "fuzz_regressions"
#: libFuzzer's own limits per input: seconds (a hang) and resident memory (a blow-up)
FLAGS = ["-timeout=30", "-rss_limit_mb=1536"]


def _harness(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **WORKER_ENV}  # as a worker runs: the allocator set by the engine
    return subprocess.run(
        [sys.executable, str(HARNESS), *FLAGS, f"-artifact_prefix={tmp_path}/", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
        check=False,
    )


def _explain(done: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    return (
        f"the harness found a misbehaving input {found} (in {tmp_path}); copy it to {REGRESSIONS} "
        f"under a name saying what it is, fix the cause, and keep it as a regression.\n{done.stderr[-3000:]}"
    )


def test_every_seed_and_regression_input_ends_in_renditions_or_a_named_error(tmp_path: Path) -> None:
    inputs = sorted(p for d in (SEEDS, REGRESSIONS) for p in d.iterdir() if p.is_file() and p.name != "README.md")
    assert len(inputs) >= 15
    done = _harness([str(p) for p in inputs], tmp_path)
    assert done.returncode == 0, _explain(done, tmp_path)
    assert f"Executed {inputs[-1]}" in done.stderr  # every file ran, to the last one


def test_a_short_fuzz_session_finds_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    done = _harness([str(corpus), "-runs=1500", "-seed=1", "-max_len=16384"], tmp_path)
    assert done.returncode == 0, _explain(done, tmp_path)
    assert "Done 1500 runs" in done.stderr


FOUND = sorted(p for p in REGRESSIONS.iterdir() if p.name != "README.md")


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.name)
def test_regression_files_are_named_for_what_they_are(path: Path) -> None:
    assert not path.name.startswith(("crash-", "timeout-", "oom-")), "rename it after what it exercises"
