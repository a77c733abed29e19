"""bandit over src finds nothing of medium or high severity, and every ``# nosec`` says why."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: ``# nosec B123 # the reason`` (bandit reads test ids up to the second ``#``)
NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
WITH_REASON = re.compile(r"^\s*:?\s*B\d{3}(\s*,\s*B\d{3})*\s*#\s*\S.{5,}$")
ID_ONLY = re.compile(r"^\s*:?\s*B\d{3}(\s*,\s*B\d{3})*\s*$")


def test_bandit_finds_no_medium_or_high_issue() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "src", "-c", "pyproject.toml", "-ll", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    found = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert found == []
    assert done.returncode == 0, done.stderr[-2000:]
    assert report["metrics"]["_totals"]["loc"] > 1000  # it really read the package


def test_every_nosec_names_its_check_and_a_reason() -> None:
    bare, seen = [], 0
    for path in sorted((ROOT / "src").rglob("*.py")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            match = NOSEC.search(line)
            if match is None:
                continue
            seen += 1
            above = lines[number - 2].strip() if number > 1 else ""
            reason_above = re.match(r"^(\S.*\(\s*)?#\s*bandit B\d{3}: \S.{10,}", above) is not None
            if not (WITH_REASON.match(match["rest"]) or (ID_ONLY.match(match["rest"]) and reason_above)):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert seen > 0
    assert bare == [], "write `# nosec BXXX # why this is safe` (or the reason as `# bandit BXXX: ...` just above)"
