"""``bench.http`` runs against real servers and judges its goals; no time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.http import markdown, verdicts

ROOT = Path(__file__).resolve().parents[2]


def _result(status: int, cached: int, kept: tuple[float, float], new: tuple[float, float]) -> dict[str, Any]:
    rows = [
        {"case": "status read", "connections": 16, "processes": 1, "goal": 1000, "requests_per_s": 10**6, "errors": 0},
        {"case": "status read", "connections": 16, "processes": 2, "goal": 1000, "requests_per_s": status, "errors": 0},
        {"case": "cached /t/", "connections": 32, "processes": 2, "goal": 3000, "requests_per_s": cached, "errors": 0},
        {"case": "/healthz", "connections": 16, "processes": 2, "goal": None, "requests_per_s": 1, "errors": 0},
    ]
    latency = {
        "kept-alive connection": {"p50_ms": kept[0], "p99_ms": kept[1]},
        "new connection per request": {"p50_ms": new[0], "p99_ms": new[1]},
    }
    return {"rows": rows, "latency": latency}


def test_goals_are_judged_on_two_processes_and_a_kept_connection_must_not_be_slower() -> None:
    judged = verdicts(_result(1000, 2999, (0.4, 1.0), (0.8, 1.0)))
    assert [v["met"] for v in judged] == [True, False, True]
    assert judged[0]["value"] == 1000  # the one-process row is shown, not judged
    slower_tail = verdicts(_result(5000, 5000, (0.4, 1.2), (0.8, 1.1)))
    assert [v["met"] for v in slower_tail] == [True, True, False]


def test_errors_fail_a_throughput_goal() -> None:
    result = _result(5000, 5000, (0.4, 1.0), (0.8, 1.1))
    result["rows"][1]["errors"] = 3
    assert [v["met"] for v in verdicts(result)] == [False, True, True]


@pytest.mark.slow
def test_http_bench_runs(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.http", "--seconds", "1", "--rounds", "1", "--latency-requests", "10"]
    command += ["--results-dir", str(tmp_path)]
    env = {"IMGFLOW_CORPUS": str(corpus), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = tmp_path.glob("http-*.json")
    result = json.loads(path.read_text())
    assert {(r["case"], r["processes"]) for r in result["rows"]} == {
        (case, n) for case in ("status read", "cached /t/", "/healthz") for n in (1, 2)
    }
    for row in result["rows"]:
        assert row["errors"] == 0, row
        assert row["requests_per_s"] > 0
    for row in result["latency"].values():
        assert row["n"] >= 10
    assert len(result["verdicts"]) == 3
    assert markdown(result) == (tmp_path / "http-latest.md").read_text()
