"""``python -m bench.mutate`` (``make mutate``): plant each mutant of ``bench/mutants.toml`` by hand,
run the tests that should catch it, and say which were caught and which survived.

A mutant is one plausible bug: in ``file``, the one occurrence of ``original`` becomes
``replacement``; ``tests`` are the pytest arguments that must then fail. A run that fails, errors or
passes the timeout counts as caught. Every file is restored after its mutant, on Ctrl-C and on
SIGTERM too; a run that was killed outright (SIGKILL) left a backup in ``build/mutate-backup``,
which the next run puts back before it starts. Exit status: 1 when a mutant survived or no longer
applies (its ``original`` is not in the file exactly once), else 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "bench" / "mutants.toml"
#: where a planted file's original is kept, under the tree's root
BACKUP = Path("build") / "mutate-backup"
PYTEST = ("-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--no-header")


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    #: one of the mutants issue 18 found surviving the suite
    listed: bool = False
    note: str = ""
    #: seconds for this mutant's test run (else ``--timeout``): a mutant that hangs a test
    timeout: float | None = None


@dataclass
class Result:
    mutant: Mutant
    verdict: str  # caught | survived | timeout | stale
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Planted:
    """The file a mutant is in while it is planted: its bytes and times, and where a copy is kept."""

    root: Path
    path: Path
    original: bytes
    stat: os.stat_result
    backup: Path = field(init=False)

    def __post_init__(self) -> None:
        self.backup = self.root / BACKUP / self.path.relative_to(self.root)

    def plant(self, text: bytes, serial: int) -> None:
        self.backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.path, self.backup)
        self.path.write_bytes(text)
        # a time no cached bytecode of this file can carry (pyc files match on mtime and size)
        stamp = self.stat.st_mtime_ns - (serial + 1) * 1_000_000_000
        os.utime(self.path, ns=(stamp, stamp))

    def restore(self) -> None:
        self.path.write_bytes(self.original)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))
        self.backup.unlink(missing_ok=True)


def load(path: Path = MUTANTS) -> list[Mutant]:
    with path.open("rb") as f:
        rows = tomllib.load(f)["mutant"]
    mutants = [Mutant(**{**row, "tests": tuple(row["tests"])}) for row in rows]
    ids = [m.id for m in mutants]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SystemExit(f"{path}: duplicated mutant ids {duplicated}")
    return mutants


def recover(root: Path = ROOT) -> list[Path]:
    """Put back every file a killed run left mutated (its backup is the original)."""
    backups = root / BACKUP
    restored: list[Path] = []
    if not backups.exists():
        return restored
    for copy in sorted(p for p in backups.rglob("*") if p.is_file()):
        target = root / copy.relative_to(backups)
        shutil.copy2(copy, target)
        copy.unlink()
        restored.append(target)
    shutil.rmtree(backups, ignore_errors=True)
    return restored


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _pytest(tests: tuple[str, ...], timeout: float, root: Path) -> tuple[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", *PYTEST, *tests]
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", f"no answer within {timeout:.0f} s"
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    failed = next((line.split()[1] for line in lines if line.startswith(("FAILED ", "ERROR "))), None)
    return ("survived" if proc.returncode == 0 else "caught"), f"{last}; by {failed}" if failed else last


def run_one(mutant: Mutant, serial: int, timeout: float, root: Path = ROOT) -> Result:
    path = root / mutant.file
    data = path.read_bytes()
    before, after = mutant.original.encode(), mutant.replacement.encode()
    count = data.count(before)
    if count != 1:
        return Result(mutant, "stale", detail=f"`original` found {count} times in {mutant.file}")
    planted = Planted(root, path, data, path.stat())
    start = time.monotonic()
    try:
        planted.plant(data.replace(before, after), serial)
        verdict, detail = _pytest(mutant.tests, mutant.timeout or timeout, root)
    finally:
        planted.restore()
    return Result(mutant, verdict, time.monotonic() - start, detail)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mutate", description=__doc__)
    parser.add_argument("--list", type=Path, default=MUTANTS, help="the mutant list (TOML)")
    parser.add_argument("--only", action="append", default=[], help="run the mutants whose id contains this")
    parser.add_argument("--file", action="append", default=[], help="run the mutants of files containing this")
    parser.add_argument("--listed", action="store_true", help="only the ten issue 18 found")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's test run")
    parser.add_argument("--show", action="store_true", help="print the selected mutants and stop")
    return parser.parse_args(argv)


def select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    chosen = [m for m in mutants if not args.listed or m.listed]
    if args.only:
        chosen = [m for m in chosen if any(part in m.id for part in args.only)]
    if args.file:
        chosen = [m for m in chosen if any(part in m.file for part in args.file)]
    return chosen


def summary(results: list[Result]) -> str:
    lines = []
    for group, rows in (("issue 18's ten", [r for r in results if r.mutant.listed]), ("all", results)):
        if not rows:
            continue
        counts = {v: sum(r.verdict == v for r in rows) for v in ("caught", "timeout", "survived", "stale")}
        caught = counts["caught"] + counts["timeout"]
        lines.append(
            f"{group}: {caught}/{len(rows)} caught ({counts['timeout']} by timeout), "
            f"{counts['survived']} survived, {counts['stale']} stale"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    for path in recover():
        print(f"restored {path.relative_to(ROOT)} (left mutated by a killed run)")
    mutants = select(load(args.list), args)
    if args.show:
        for m in mutants:
            print(f"{m.id:40} {m.file}  {' '.join(m.tests)}")
        return 0
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background job ignores it
        signal.signal(signum, _interrupt)
    results: list[Result] = []
    try:
        for serial, mutant in enumerate(mutants):
            result = run_one(mutant, serial, args.timeout)
            results.append(result)
            mark = {"caught": "caught  ", "timeout": "caught  ", "survived": "SURVIVED", "stale": "STALE   "}
            print(f"{mark[result.verdict]} {result.seconds:6.1f}s  {mutant.id}  ({result.detail})", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {len(results)} of {len(mutants)} mutants; every file is restored")
        print(summary(results))
        return 130
    finally:
        shutil.rmtree(ROOT / BACKUP, ignore_errors=True)  # every planted file is back: nothing to recover
    print(summary(results))
    skipped = [r.mutant.id for r in results if "skipped" in r.detail]
    if skipped:  # a skipped test catches nothing: the corpus (IMGFLOW_CORPUS) or a tool may be absent
        print(f"note: {len(skipped)} runs skipped tests ({', '.join(skipped[:5])}...): is IMGFLOW_CORPUS set?")
    return 1 if any(r.verdict in ("survived", "stale") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
