"""``bench.cluster`` runs against real PostgreSQL and SeaweedFS and judges its goals; no time is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.cluster import figures, markdown

ROOT = Path(__file__).resolve().parents[2]


def _runs(bare: float, two: float, one: float, status: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    return {"bare-2": [{"per_s": bare}], "cluster-2": [{"per_s": two, "status": status}], "cluster-1": [{"per_s": one}]}


def test_goals_are_ratios_of_medians_and_errors_void_the_status_figure() -> None:
    f = figures(_runs(5.0, 4.5, 2.5, {"per_s": 1600.0, "errors": 0}))
    assert (f["pipeline_vs_bare"], f["two_vs_one"], f["status_per_s"]) == (0.9, 1.8, 1600.0)
    table = markdown({"figures": f, "meta": {"cpu": "x"}, "config": {"images": 2, "rounds": 1}})
    assert table.count("| yes |") == 3
    failing = figures(_runs(5.0, 4.0, 2.5, {"per_s": 1600.0, "errors": 3}))
    assert failing["status_per_s"] == 0.0
    table = markdown({"figures": failing, "meta": {"cpu": "x"}, "config": {"images": 2, "rounds": 1}})
    assert table.count("| no |") == 3


@pytest.mark.cluster
@pytest.mark.slow
def test_cluster_bench_runs(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.cluster", "--images", "2", "--rounds", "1", "--status-seconds", "1"]
    command += ["--no-docs", "--results-dir", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IMGFLOW_"))}
    env["IMGFLOW_CORPUS"] = str(corpus)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = tmp_path.glob("cluster-*.json")
    result = json.loads(path.read_text())
    for name in ("bare-2", "cluster-2", "cluster-1"):
        [run] = result["runs"][name]
        assert run["per_s"] > 0, run
        assert run.get("failed", 0) == 0, run
    assert {"pipeline_vs_bare", "two_vs_one", "status_per_s"} <= set(result["figures"])
