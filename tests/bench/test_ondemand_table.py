"""The on-demand benchmark's table and goals: thumbor's rows only when it ran, the hint otherwise."""

from __future__ import annotations

from typing import Any

from bench import ondemand, peer


def case(p50: float, p99: float, rps: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"n": 30, "p50_ms": p50, "p99_ms": p99, "min_ms": p50 / 2, "max_ms": p99}
    if rps is not None:
        row["requests_per_s"] = rps
    return row


def result(thumbor_cold: dict[str, Any] | None, warm_rps: int = 1500) -> dict[str, Any]:
    # in the run's order: the cold cases (interleaved), then the warm ones
    cases = {
        "imgflow: cold, from the 2048 px rendition": case(50, 100),
        "imgflow: cold, from the 12 MP original": case(110, 190),
    }
    if thumbor_cold is not None:
        cases["thumbor: cold, from the 12 MP original"] = thumbor_cold
    cases["imgflow: warm, 32 connections"] = case(12, 40, warm_rps)
    thumbor = None
    if thumbor_cold is not None:
        cases["thumbor: warm (renders), 32 connections"] = case(9000, 9600, 3)
        thumbor = {"version": "7.8.0", "pillow": "12.3.0"}
    return {
        "meta": {"date": "2026-11-30 00:14 UTC", "cpus": 2},
        "input": {"label": "12 MP JPEG", "width": 4000, "height": 3000},
        "renderers": 2,
        "cases": cases,
        "thumbor": thumbor,
        "output_widths": {"imgflow: cold, from the 12 MP original": 400},
    }


def test_thumbor_rows_and_note_appear_in_the_same_table_when_it_ran() -> None:
    text = ondemand.markdown(result(case(400, 600)))
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == [
        "| imgflow: cold, from the 2048 px rendition",
        "| imgflow: cold, from the 12 MP original",
        "| thumbor: cold, from the 12 MP original",
        "| imgflow: warm, 32 connections",
        "| thumbor: warm (renders), 32 connections",
    ]
    assert "thumbor 7.8.0 (Pillow 12.3.0)" in text
    assert "no result cache" in text
    assert peer.INSTALL_HINT not in text


def test_without_thumbor_its_rows_are_skipped_with_the_install_hint() -> None:
    text = ondemand.markdown(result(None))
    assert "| thumbor" not in text
    assert f"thumbor is not installed, its rows are skipped: `{peer.INSTALL_HINT}`" in text
    assert "faster than thumbor" not in text


def test_cold_goal_needs_p50_and_p99_below_thumbors() -> None:
    faster = ondemand.verdicts(result(case(400, 600)))
    assert faster[0].endswith("**met**")
    assert "110/190 ms vs 400/600 ms" in faster[0]
    slower_tail = ondemand.verdicts(result(case(400, 150)))
    assert slower_tail[0].endswith("**not met**")


def test_warm_goal_is_a_thousand_answers_per_second() -> None:
    assert ondemand.verdicts(result(None, warm_rps=1000))[-1].endswith("1,000/s: **met**")
    assert ondemand.verdicts(result(None, warm_rps=999))[-1].endswith("999/s: **not met**")
