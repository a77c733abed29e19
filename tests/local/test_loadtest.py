"""``make loadtest`` at CI size: uploads of photos and bad files into ``imgflow serve`` while a
worker holding a job is killed. Outcomes only (the figures are ``make loadtest``'s): nothing
lost, every file ends the same way each time, a photo always ``done``. The deadline is far below
the 900 s lease the killed job would otherwise wait out."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.loadtest import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def test_uploads_survive_a_killed_worker(corpus: Path) -> None:
    report = run(40, workers=2, kills=1, corpus=corpus, deadline=300.0)
    assert len(report.kills) == 1
    assert report.uploads == 40
    assert report.lost == 0, report.lines()
    assert report.done + report.failed + report.refused == 40
    assert report.consistent, report.inconsistent
    photos_failed = [name for name in report.unexpected if name.startswith("photos/")]
    assert photos_failed == []
    assert report.done > 0
    assert report.failed > 0  # the bad files were in the mix, and failed
