"""The benchmark's verdicts: each target judged against its limit, peers only when they ran."""

from __future__ import annotations

from typing import Any

import pytest
from bench.engines import PEERS

from bench import peer, report, run


def row(engine: str, ms: float, cpu: float | None = None) -> dict[str, Any]:
    return {"engine": engine, "input": "20mp", "threads": 1, "median_ms": ms, "cpu_median_ms": cpu or ms}


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {t["target"]: t for t in report.targets(report.ratios(rows))}


def test_speedups_over_peers_are_their_median_over_imgflows() -> None:
    rows = [row("imgflow", 400), row("floor", 320), row("sharp-each", 800, 600), row("thumbor", 1000)]
    [ratio] = report.ratios(rows)
    assert ratio["imgflow_vs_floor"] == 1.25
    assert ratio["speedup_vs_sharp_each"] == 2.0
    assert ratio["cpu_speedup_vs_sharp_each"] == 1.5
    assert ratio["speedup_vs_thumbor"] == 2.5
    assert ratio["speedup_vs_sharp_cascade"] is None


def test_each_target_is_judged_against_its_limit() -> None:
    judged = verdicts(
        [
            row("imgflow", 400),
            row("floor", 360),
            row("pillow-good", 500),
            row("sharp-cascade", 396),
            row("thumbor", 404),
        ]
    )
    assert judged["imgflow <= 1.15x the codec floor (imgflow's codecs)"]["met"] is True  # 1.11
    assert judged["imgflow >= 1.4x faster than well-written Pillow"]["met"] is False  # 1.25
    assert judged["imgflow faster than sharp, cascade"]["met"] is False  # 0.99: sharp is faster
    assert judged["imgflow faster than thumbor"]["met"] is True  # 1.01
    tutorial = judged["imgflow >= 1.9x faster than tutorial Pillow"]
    assert (tutorial["value"], tutorial["met"]) == (None, None)  # a reference engine that did not run: not measured


def test_a_tie_with_a_peer_is_not_faster() -> None:
    judged = verdicts([row("imgflow", 400), row("sharp-each", 400)])
    assert judged["imgflow faster than sharp, one pipeline per output"]["met"] is False


def test_peers_that_did_not_run_have_no_target_rows() -> None:
    judged = verdicts([row("imgflow", 400), row("floor", 380)])
    assert not any("sharp" in text or "thumbor" in text for text in judged)


def test_peers_not_installed_are_skipped_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(peer, "installed", lambda engine: engine not in PEERS)
    args = run.parse(["--engines", "imgflow,sharp-each,thumbor"])
    assert args.engines == ["imgflow"]
    assert "make bench-peers" in capsys.readouterr().out


def test_peer_rows_carry_their_versions() -> None:
    meta = {"peers": {"sharp": "0.35.5", "sharp_libvips": "8.18.7", "node": "20.20.2", "thumbor": "7.8.0"}}
    assert "sharp 0.35.5, libvips 8.18.7" in report.label("sharp-cascade", meta)
    assert "thumbor 7.8.0" in report.label("thumbor", meta)
    assert report.label("thumbor", {"peers": {"thumbor": "absent"}}) == "thumbor, warm server"


def test_pipeline_throughput_counts_only_when_no_image_failed() -> None:
    from bench import pipeline

    figures = {"pipeline_vs_bare": 0.95, "two_vs_one": 1.9, "failed": 2}
    judged = {v["key"]: v["met"] for v in pipeline.verdicts({"figures": figures, "long_lived": {"images": 200}})}
    assert (judged["pipeline_vs_bare"], judged["two_vs_one"]) == (False, False)
    failed = [{"error": {"code": "corrupt_image", "message": "x" * 300}}, {"error": {"code": "corrupt_image",
              "message": "x" * 300}}, {"error": None}]  # fmt: skip
    reasons = pipeline.reasons(failed)
    assert reasons == {f"corrupt_image: {'x' * 120}": 2, "?: ": 1}


def test_pipeline_status_reads_count_only_without_errors() -> None:
    from bench import pipeline

    figures = {"pipeline_vs_bare": 0.95, "two_vs_one": 1.7, "status_per_s": 1500.0, "status_errors": 3}
    figures |= {"rss_growth": 1.6, "cli_peak_mib": 99.0}
    judged = {v["key"]: v["met"] for v in pipeline.verdicts({"figures": figures, "long_lived": {"images": 200}})}
    assert judged == {
        "pipeline_vs_bare": True,
        "two_vs_one": False,
        "status_per_s": False,  # fast enough, but 3 errors
        "rss_growth": False,
        "cli_peak_mib": True,
    }
