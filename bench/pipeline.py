"""``python -m bench.pipeline``: the local pipeline's own figures (``imgflow serve`` of this checkout).

- throughput: images per second through upload -> queue -> worker -> record, against bare
  ``process_image`` of the same images at the same parallelism (``bench.bare``); 1 vs 2 workers.
  Rounds interleave the three runs in an order rotated each round; medians are reported.
- status reads per second over HTTP (``GET /v1/images/{id}``) by ``wrk`` (C, one thread), with
  the error count; not measured without wrk (``make bench-peers`` installs it).
- a long-lived worker's resident set when idle after 10 images and after ``--long`` images.
- the whole-process peak RSS of ``imgflow process`` on the 20 MP photo (GNU time's ``%M``: the
  command's own peak, not the harness's, see ``bench.worker.peak_kib``).

Writes ``bench/results/pipeline-<timestamp>.json`` and the table in ``docs/benchmarks.md``
between ``<!-- pipeline:begin -->`` and ``<!-- pipeline:end -->``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import bare, machine, peer
from bench.inputs import ROOT, corpus_dir
from bench.localserver import LocalServer, machine_busy_s, rss_kib
from imgflow.runtimes.local.worker import HEAP_RELEASE_IDLE

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- pipeline:begin -->", "<!-- pipeline:end -->"
MIB = 1024.0
#: (key, what, goal, higher is better)
GOALS: tuple[tuple[str, str, float, bool], ...] = (
    ("pipeline_vs_bare", "pipeline / bare processing, 2 workers vs 2 processes", 0.9, True),
    ("two_vs_one", "2 workers / 1 worker", 1.8, True),
    ("status_per_s", "status reads per second (0 errors)", 1000.0, True),
    ("rss_growth", "worker RSS after {long} / after 10 images", 1.5, False),
    ("cli_peak_mib", "`imgflow process` peak RSS on 20 MP, MiB", 100.0, False),
)


def photos(count: int) -> list[Path]:
    """``count`` images cycling over the corpus photos (JPEG 4-20 MP and two PNGs)."""
    found = sorted((corpus_dir() / "photos").glob("*.*"))
    if not found:
        raise SystemExit(f"no photos under {corpus_dir()} (set IMGFLOW_CORPUS)")
    return [found[i % len(found)] for i in range(count)]


def small() -> Path:
    return corpus_dir() / "photos" / "coffee.png"


def reasons(failed: list[dict[str, Any]]) -> dict[str, int]:
    """Failed records by their error code and message: a bench with failures measures the wrong thing."""

    def why(record: dict[str, Any]) -> str:
        error = record.get("error") or {}
        return f"{error.get('code', '?')}: {str(error.get('message', ''))[:120]}"

    return dict(Counter(why(r) for r in failed))


def _why(failures: dict[str, int] | None) -> str:
    return f" ({'; '.join(f'{n}x {text}' for text, n in failures.items())})" if failures else ""


def pipeline_run(paths: list[Path], workers: int, status_seconds: int = 0) -> dict[str, Any]:
    """Upload every path to a fresh server with ``workers`` workers; images per second until the
    last record is done (its ``updated_at``), from just before the first upload."""
    with LocalServer(workers) as server:
        warm = {server.upload(small()) for _ in range(2 * workers)}
        server.wait(warm)
        ours = [server.proc.pid, *server.workers()]
        cpu, own, busy = sum(peer.cpu_s(p) for p in ours), time.process_time(), machine_busy_s()
        started = time.time()
        ids = {server.upload(p) for p in paths}
        done, failed = server.wait(ids)
        finished = max((float(r["updated_at"]) for r in done), default=time.time())
        # CPU of the server, its workers and this client (uploads, polling); the rest is other load
        cpu = sum(peer.cpu_s(p) for p in ours) - cpu + time.process_time() - own
        busy = machine_busy_s() - busy
        out: dict[str, Any] = {"workers": workers, "images": len(paths), "failed": len(failed)}
        out["failures"] = reasons(failed)
        out.update(seconds=finished - started, per_s=len(done) / (finished - started))
        out.update(cpu_s=cpu, cpu_ms_per_image=1000 * cpu / len(paths))
        out["others_cores"] = max(0.0, busy - cpu) / (time.time() - started)
        if status_seconds and done:
            out["status"] = status_reads(server.base, str(done[0]["image_id"]), status_seconds)
    return out


def status_reads(base: str, image_id: str, seconds: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"error": "wrk is not installed (make bench-peers)"}
    command = [wrk, "-t1", "-c16", f"-d{seconds}s", "--latency", f"{base}/v1/images/{image_id}"]
    text = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    p99 = re.search(r"99%\s+([\d.]+\w+)", text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(x) for x in sockets.groups()) if sockets else 0)
    return {
        "tool": "wrk 1 thread, 16 connections",
        "per_s": float(rate.group(1)) if rate else None,
        "requests": int(total.group(1)) if total else None,
        "errors": errors,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True))
        if sockets
        else {},
        "p99": p99.group(1) if p99 else None,
    }


def long_lived(count: int) -> dict[str, Any]:
    """One worker: its idle RSS after 10 images and after ``count`` (uploads overlap the work)."""
    paths = photos(count)
    with LocalServer(1) as server:
        first = {server.upload(p) for p in paths[:10]}
        server.wait(first)
        [pid] = server.workers()
        time.sleep(HEAP_RELEASE_IDLE + 0.5)
        after_10 = rss_kib(pid)
        rest: set[str] = set()
        uploader = threading.Thread(target=lambda: rest.update(server.upload(p) for p in paths[10:]))
        uploader.start()
        uploader.join()
        _done, failed = server.wait(rest)
        time.sleep(HEAP_RELEASE_IDLE + 0.5)  # idle: past the worker's heap release
        after_n = rss_kib(pid)
        return {
            "images": count,
            "failed": len(failed),
            "failures": reasons(failed),
            "same_worker": server.workers() == [pid],
            "rss_after_10_mib": round(after_10 / MIB, 1),
            "rss_after_n_mib": round(after_n / MIB, 1),
            "peak_mib": round(rss_kib(pid, "VmHWM") / MIB, 1),
        }


def cli_peak(runs: int = 3) -> dict[str, Any]:
    """``imgflow process`` on the 20 MP photo, as a whole process, under GNU time (``%M``, KiB)."""
    if not Path("/usr/bin/time").exists():
        return {"error": "GNU time (/usr/bin/time) is not installed (make bench-peers)"}
    photo = corpus_dir() / "photos" / "Kleiber_by_Lukas_Baubkus.jpg"
    cli = [sys.executable, "-c", "from imgflow.cli.main import app; app()", "process", str(photo)]
    peaks = []
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(prefix="imgflow-bench-cli-"))
        try:
            done = subprocess.run(
                ["/usr/bin/time", "-f", "%M %e", *cli, "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                env=_env(),
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-300:]}
        kib, seconds = done.stderr.strip().splitlines()[-1].split()
        peaks.append((int(kib) / MIB, float(seconds)))
    return {"peaks_mib": [round(p, 1) for p, _ in peaks], "seconds": [s for _, s in peaks]}


def _env() -> dict[str, str]:
    import os

    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    meta = machine.describe()
    paths = photos(args.images)
    runs: dict[str, list[dict[str, Any]]] = {"bare-2": [], "pipeline-2": [], "pipeline-1": []}
    for r in range(args.rounds):
        order = list(runs)
        order = order[r % 3 :] + order[: r % 3]
        for name in order:
            print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
            if name == "bare-2":
                runs[name].append(bare.run(paths, 2, small()))
            else:
                last = r == args.rounds - 1 and name == "pipeline-2"
                runs[name].append(pipeline_run(paths, int(name[-1]), args.status_seconds if last else 0))
    print(f"long-lived worker: {args.long} images", file=sys.stderr, flush=True)
    long = long_lived(args.long)
    print("imgflow process on 20 MP: peak RSS", file=sys.stderr, flush=True)
    cli = cli_peak()
    meta["load_after"] = machine.load()
    meta["duration_s"] = round(time.perf_counter() - started)
    return {
        "meta": meta,
        "config": vars(args) | {"results_dir": str(args.results_dir)},
        "runs": runs,
        "long_lived": long,
        "cli": cli,
        "figures": figures(runs, long, cli),
    }


def figures(runs: dict[str, list[dict[str, Any]]], long: dict[str, Any], cli: dict[str, Any]) -> dict[str, Any]:
    def median(name: str) -> float:
        return float(statistics.median(float(r["per_s"]) for r in runs[name]))

    status: dict[str, Any] = next((r["status"] for r in runs["pipeline-2"] if "status" in r), {})
    out: dict[str, Any] = {
        "bare_2_per_s": round(median("bare-2"), 2),
        "pipeline_2_per_s": round(median("pipeline-2"), 2),
        "pipeline_1_per_s": round(median("pipeline-1"), 2),
        "pipeline_vs_bare": round(median("pipeline-2") / median("bare-2"), 2),
        "two_vs_one": round(median("pipeline-2") / median("pipeline-1"), 2),
        "failed": sum(r.get("failed", 0) for rs in runs.values() for r in rs) + long.get("failed", 0),
        "failures": dict(
            sum((Counter(r.get("failures", {})) for rs in runs.values() for r in rs), Counter(long.get("failures", {})))
        ),
        "status_per_s": status.get("per_s"),
        "status_errors": status.get("errors"),
        "rss_growth": round(long["rss_after_n_mib"] / long["rss_after_10_mib"], 2),
        "cli_peak_mib": max(cli["peaks_mib"]) if "peaks_mib" in cli else None,
    }
    out["pipeline_ms_per_image"] = round(1000 / out["pipeline_1_per_s"], 1)

    def cpu(name: str) -> float:
        return float(statistics.median(float(r["cpu_ms_per_image"]) for r in runs[name]))

    # CPU per image: steady on a shared machine, where throughput depends on what others run
    out["bare_cpu_ms_per_image"] = round(cpu("bare-2"), 1)
    out["pipeline_cpu_ms_per_image"] = round(cpu("pipeline-2"), 1)
    out["bare_vs_pipeline_cpu"] = round(cpu("bare-2") / cpu("pipeline-2"), 2)
    out["others_cores"] = round(statistics.median(float(r["others_cores"]) for rs in runs.values() for r in rs), 2)
    return out


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    figs = result["figures"]
    rows = []
    for key, what, goal, higher in GOALS:
        value = figs.get(key)
        met = None if value is None else (value >= goal if higher else value <= goal)
        if key == "status_per_s" and met:
            met = figs.get("status_errors") == 0
        if key in ("pipeline_vs_bare", "two_vs_one") and met:
            met = figs.get("failed", 0) == 0  # failed images are cheap: the rate would flatter
        rows.append(
            {
                "key": key,
                "what": what.format(long=result["long_lived"]["images"]),
                "value": value,
                "goal": ("≥ " if higher else "≤ ") + f"{goal:g}",
                "met": met,
            }
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    meta, figs, long, cli = result["meta"], result["figures"], result["long_lived"], result["cli"]
    lines = [
        f"Run {meta['date']}, {result['config']['images']} images (the corpus photos in turn: 4-20 MP JPEGs, "
        f"two PNGs), default recipe, {result['config']['rounds']} interleaved rounds (medians); load average "
        f"{meta['load_before']} before, {meta['load_after']} after; {meta['duration_s']} s in all.",
        "",
        "| figure | value | goal | verdict |",
        "|---|---|---|---|",
    ]
    for row in verdicts(result):
        verdict = "not measured" if row["met"] is None else ("met" if row["met"] else "NOT met")
        value = "-" if row["value"] is None else row["value"]
        lines.append(f"| {row['what']} | {value} | {row['goal']} | {verdict} |")
    status: dict[str, Any] = next((r["status"] for r in result["runs"]["pipeline-2"] if "status" in r), {})
    lines += [
        "",
        f"Other processes kept {figs['others_cores']} of the 2 cores busy during the throughput runs (median). "
        f"CPU per image, which that load does not change: bare processing {figs['bare_cpu_ms_per_image']} ms, "
        f"the pipeline {figs['pipeline_cpu_ms_per_image']} ms (server, workers and the uploading client): "
        f"bare / pipeline = {figs['bare_vs_pipeline_cpu']}.",
        "",
        f"Images per second: bare processing in 2 processes {figs['bare_2_per_s']}, the pipeline with 2 workers "
        f"{figs['pipeline_2_per_s']}, with 1 worker {figs['pipeline_1_per_s']}; "
        f"{figs['failed']} failed{_why(figs.get('failures'))}. "
        f"Status reads: {status.get('requests', '-')} requests by {status.get('tool', '-')}, "
        f"{status.get('errors', '-')} errors, p99 {status.get('p99', '-')}. Worker RSS idle after 10 images "
        f"{long['rss_after_10_mib']} MiB, after {long['images']} {long['rss_after_n_mib']} MiB (its peak "
        f"{long['peak_mib']} MiB). `imgflow process` peaks: {cli.get('peaks_mib', cli.get('error'))} MiB.",
    ]
    return "\n".join(lines) + "\n"


def update_doc(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        print(f"{DOC} has no {BEGIN} ... {END} markers; left alone", file=sys.stderr)
        return
    head, rest = doc.split(BEGIN, 1)
    DOC.write_text(head + BEGIN + "\n" + text + END + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=60, help="images per throughput run (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--long", type=int, default=200, help="images through the long-lived worker (default 200)")
    parser.add_argument("--status-seconds", type=int, default=10, help="seconds of status reads (default 10)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument("--from-json", type=Path, help="measure nothing: write the Markdown of a saved run")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
    else:
        result = measure(args)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}")
    text = markdown(result)
    print(text)
    if not args.no_docs:
        (args.results_dir / "pipeline-latest.md").write_text("# Latest pipeline run\n\n" + text)
        update_doc(text)


if __name__ == "__main__":
    main()
