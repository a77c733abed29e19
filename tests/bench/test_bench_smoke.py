"""The benchmark runs end to end and reports every engine. No time is asserted: figures are not tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.report import TARGETS

ROOT = Path(__file__).resolve().parents[2]
ENGINES = {"imgflow", "pillow-good", "pillow-tutorial", "floor", "floor-pillow"}
#: the derived input is 4000x3000 stored with EXIF Orientation=6: every output must come out portrait
UPRIGHT = {"large": (1536, 2048), "medium": (768, 1024), "thumb": (192, 256)}


@pytest.mark.slow
def test_quick_run_reports_everyengine(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.run", "--quick", "--rounds", "1", "--inputs", "12mp-exif6"]
    command += ["--efforts", "0", "--results-dir", str(tmp_path), "--engines", ",".join(sorted(ENGINES))]
    env = {"IMGFLOW_CORPUS": str(corpus), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = tmp_path.glob("*.json")
    result = json.loads(path.read_text())

    assert {row["engine"] for row in result["results"]} == ENGINES
    for row in result["results"]:
        assert row["errors"] == [], (row["engine"], row["errors"])
        assert row["input"] == "12mp-exif6"
        assert row["threads"] == 1
        assert row["median_ms"] > 0
        assert row["mp_per_s"] > 0
        assert row["peak_rss_mib"] >= row["baseline_rss_mib"] > 0
        made = {(o["name"], o["format"]) for o in row["outputs"]}
        assert made == {(n, f) for n in UPRIGHT for f in ("jpeg", "webp")}
        assert all(o["bytes"] > 0 for o in row["outputs"])
        if not row["engine"].startswith("floor"):  # the floors encode crops and do not rotate, by definition
            assert {o["name"]: (o["width"], o["height"]) for o in row["outputs"]} == UPRIGHT, row["engine"]

    [ratio] = result["ratios"]
    assert all(ratio[k] > 0 for k in ("imgflow_vs_floor", "speedup_vs_pillow_good", "speedup_vs_pillow_tutorial"))
    # every target of this run is judged (none "not measured") and its verdict is its ratio against its limit
    judged = {t["target"]: t for t in result["targets"]}
    assert set(judged) == {text for engine, text, *_rest in TARGETS if engine in ENGINES}
    for engine, text, key, limit, higher in TARGETS:
        if engine in ENGINES:
            assert judged[text]["value"] == ratio[key]
            assert judged[text]["met"] is ((ratio[key] >= limit) if higher else (ratio[key] <= limit)), text
    assert [(s["engine"], s["effort"]) for s in result["effort_sweep"]] == [("imgflow", 0), ("floor", 0)]
    assert result["inputs"][0]["width"] == 4000
    assert result["inputs"][0]["height"] == 3000
    assert "imgflow" in done.stdout
    # a quick run leaves the committed Markdown alone
    assert not (tmp_path / "latest.md").exists()


@pytest.mark.slow
def test_ondemand_bench_runs(corpus: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.ondemand", "--cold", "2", "--seconds", "1", "--connections", "2"]
    command += ["--results-dir", str(tmp_path)]
    env = {"IMGFLOW_CORPUS": str(corpus), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})  # the server runs this checkout
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = tmp_path.glob("ondemand-*.json")
    result = json.loads(path.read_text())
    # imgflow's rows (thumbor's join them when `make bench-peers` installed it)
    cases = {name: row for name, row in result["cases"].items() if name.startswith("imgflow: ")}
    assert [name.removeprefix("imgflow: ").split(",")[0] for name in cases] == ["cold", "cold", "warm"]
    for row in cases.values():
        assert row["n"] >= 2
        assert row["p99_ms"] >= row["p50_ms"] > 0
    warm = cases["imgflow: warm, 2 connections"]
    assert warm["errors"] == 0
    assert warm["requests_per_s"] > 0
    assert (tmp_path / "ondemand-latest.md").read_text().startswith("# On-demand benchmark")
