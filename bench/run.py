"""``python -m bench.run``: imgflow against Pillow engines and the codec floor, side by side.

Writes ``bench/results/<timestamp>.json`` and ``bench/results/latest.md``, and regenerates the table
in ``docs/benchmarks.md`` between its markers (not with ``--quick`` or ``--no-docs``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import harness, inputs, machine, peer, report
from bench.engines import ENGINES, PEERS

RESULTS = inputs.ROOT / "bench" / "results"
DOC = inputs.ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
console = Console(width=150)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per engine and input (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 thread, efforts 0 and 4, no docs")
    parser.add_argument("--threads", default=None, help="thread budgets, comma-separated (default 1,2)")
    parser.add_argument("--inputs", default=None, help="20mp,13mp-progressive,12mp-exif6 (default: all)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines, comma-separated")
    parser.add_argument("--efforts", default=None, help="WebP efforts for the sweep (default 0,2,4,6; '' skips it)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--from-json", type=Path, help="measure nothing: print and write the Markdown of a saved run")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.threads = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    default_efforts = "0,4" if args.quick else "0,2,4,6"
    args.efforts = [int(x) for x in (args.efforts if args.efforts is not None else default_efforts).split(",") if x]
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; choose from {list(ENGINES)}")
    missing = [e for e in args.engines if e in PEERS and not peer.installed(e)]
    if missing:
        skipped = ", ".join(missing)
        console.print(f"[yellow]peers not installed, skipped: {skipped}; install them with: {peer.INSTALL_HINT}[/]")
        args.engines = [e for e in args.engines if e not in missing]
    return args


def measure(args: argparse.Namespace, items: list[inputs.Input]) -> dict[str, Any]:
    started = time.perf_counter()
    meta = machine.describe()
    meta["peers"] = peer.versions()
    by_key = {i.key: i for i in items}
    series: list[harness.Series] = []
    for threads in args.threads:
        series += harness.time_engines(args.engines, items, threads, args.rounds, console.log)
    rss = harness.measure_rss(args.engines, items, args.threads, console.log)
    rss_by = {(r["engine"], r["input"], r["threads"]): r for r in rss}
    sweep: list[harness.Series] = []
    sweep_input = by_key.get("20mp", items[0])
    sweep_engines = [e for e in ("imgflow", "floor") if e in args.engines]
    if args.efforts and sweep_engines:
        sweep = harness.time_efforts(sweep_engines, sweep_input, args.efforts, args.rounds, console.log)
    rows = [report.summarise(s, by_key[s.input], rss_by.get((s.engine, s.input, s.threads))) for s in series]
    order = {e: n for n, e in enumerate(args.engines)}
    rows.sort(key=lambda r: (list(by_key).index(r["input"]), order[r["engine"]], r["threads"]))
    ratio_rows = report.ratios(rows)
    meta["load_after"] = machine.load()
    meta["duration_s"] = round(time.perf_counter() - started)
    return {
        "meta": meta,
        "config": {"rounds": args.rounds, "threads": args.threads, "engines": args.engines, "efforts": args.efforts},
        "inputs": [i.as_dict() for i in items],
        "results": rows,
        "ratios": ratio_rows,
        "targets": report.targets(ratio_rows),
        "effort_sweep": [report.summarise(s, sweep_input, None) for s in sweep],
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title="imgflow benchmark (medians over interleaved rounds)")
    columns = ("input", "engine", "threads", "median ms", "min-max", "MP/s", "CPU ms", "peak RSS MiB fresh/warm")
    for column in columns:
        table.add_column(column, justify="left" if column in ("input", "engine") else "right")
    for row in result["results"]:
        engine = report.label(row["engine"], result["meta"]) + (" [red](errors)[/]" if row["errors"] else "")
        table.add_row(
            row["input"],
            engine,
            str(row["threads"]),
            str(row.get("median_ms", "-")),
            f"{row.get('min_ms', '-')}-{row.get('max_ms', '-')}",
            str(row.get("mp_per_s", "-")),
            str(row.get("cpu_median_ms", "-")),
            f"{row.get('peak_rss_mib', '-')} / {row.get('warm_worker_peak_rss_mib', '-')}",
        )
    console.print(table)
    targets = Table(title="targets")
    for column in ("target", "input", "threads", "value", "verdict"):
        targets.add_column(column)
    for t in result["targets"]:
        colour = "green" if t["met"] else "red"
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        targets.add_row(t["target"], t["input"], str(t["threads"]), str(t["value"]), f"[{colour}]{verdict}[/]")
    console.print(targets)
    if result["effort_sweep"]:
        sweep = Table(title=f"WebP effort ({result['effort_sweep'][0]['input']}, 1 thread)")
        for column in ("engine", "effort", "median ms", "CPU ms", "WebP bytes", "imgflow / floor"):
            sweep.add_column(column, justify="left" if column == "engine" else "right")
        for row in result["effort_sweep"]:
            ratio = report.effort_ratio(result["effort_sweep"], row)
            sweep.add_row(
                row["engine"],
                str(row["effort"]),
                str(row.get("median_ms", "-")),
                str(row.get("cpu_median_ms", "-")),
                f"{report.webp_bytes(row):,}",
                "-" if ratio is None else str(ratio),
            )
        console.print(sweep)
    for row in result["results"] + result["effort_sweep"]:
        for error in row["errors"][:2]:
            console.print(f"[red]{row['engine']} on {row['input']} ({row['threads']} thread(s)): {error}[/]")


def update_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else ""
    if BEGIN not in doc or END not in doc:
        console.print(f"[yellow]{DOC} has no {BEGIN} ... {END} markers; left alone[/]")
        return
    head, rest = doc.split(BEGIN, 1)
    DOC.write_text(head + BEGIN + "\n" + text + END + rest.split(END, 1)[1])


def publish(result: dict[str, Any], args: argparse.Namespace) -> None:
    text = report.markdown(result)
    (args.results_dir / "latest.md").write_text("# Latest benchmark run\n\n" + text)
    if not args.no_docs:
        update_doc(text)
        console.print(f"updated {DOC}")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
        result["ratios"] = report.ratios(result["results"])  # recomputed: older runs lack newer ratios
        result["targets"] = report.targets(result["ratios"])
        show(result)
        publish(result, args)
        return
    cache = Path(tempfile.mkdtemp(prefix="imgflow-bench-"))
    try:
        items = inputs.build(inputs.corpus_dir(), cache, args.inputs.split(",") if args.inputs else None)
        result = measure(args, items)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.results_dir / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    show(result)
    console.print(f"wrote {path}")
    if not args.quick:
        publish(result, args)


if __name__ == "__main__":
    main()
