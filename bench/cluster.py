"""``python -m bench.cluster``: the cluster backend's figures on this machine (never a test).

PostgreSQL 15 (Debian's, in a temp dir) and SeaweedFS (``weed mini``) on 127.0.0.1, started
here by the test suite's kits; the roles as real processes (``imgflow serve --role api``,
``imgflow worker``). In one run, side by side, rounds interleaved and medians reported:

- the cluster pipeline with 2 workers against bare ``process_image`` in 2 processes on the same
  images (goal >= 0.9x), and 2 workers against 1 (goal >= 1.8x): images per second from just
  before the first upload until the last record ends (its ``updated_at``);
- status reads (``GET /v1/images/{id}``) across 2 API processes by ``wrk`` (1 thread, 16
  connections; goal >= 1,500/s, 0 errors).

Writes ``bench/results/cluster-<timestamp>.json`` and the table in ``docs/cluster.md`` between
``<!-- cluster:begin -->`` and ``<!-- cluster:end -->``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import bare, machine
from bench.inputs import ROOT
from bench.localserver import wait_settled
from bench.pipeline import photos, small, status_reads

sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "cluster")]

from clusterkit import Cluster, cluster_env  # type: ignore[import-not-found]  # noqa: E402

from pgkit import running_postgres  # type: ignore[import-not-found]  # noqa: E402
from weedkit import running_weed  # type: ignore[import-not-found]  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "cluster.md"
BEGIN, END = "<!-- cluster:begin -->", "<!-- cluster:end -->"
GOALS = (
    ("pipeline_vs_bare", "cluster pipeline / bare processing, 2 workers vs 2 processes", 0.9),
    ("two_vs_one", "2 workers / 1 worker", 1.8),
    ("status_per_s", "status reads per second across 2 API processes (0 errors)", 1500.0),
)


def _wait(client: httpx.Client, ids: set[str], timeout: float = 900) -> list[dict[str, Any]]:
    """The ended records: two listings every 0.5 s (it asked for each image every 50 ms, ~500
    requests a second at the API on the cores the workers need)."""
    done, failed = wait_settled(client, ids, timeout)
    if len(done) + len(failed) < len(ids):
        raise SystemExit(f"{len(ids) - len(done) - len(failed)} images did not end in {timeout} s")
    return done + failed


def _upload(url: str, path: Path) -> str:
    """Direct up to 4 MiB, presigned above (the form to SeaweedFS, then the completion call)."""
    from imgflow.runtimes.local.client import Client, image_id_of

    with Client(url) as client:
        return str(image_id_of(client.upload(path, via="auto")))


def pipeline_run(cluster: Cluster, paths: list[Path], workers: int, status_seconds: int = 0) -> dict[str, Any]:
    migrate = cluster.run("db", "migrate")
    if migrate.returncode:
        raise SystemExit(migrate.stderr)
    url = cluster.api("--processes", "2", log=f"api-{workers}.log")
    cluster.start("worker", "--concurrency", str(workers), log=f"worker-{workers}.log")
    try:
        with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(4) as pool:
            _wait(client, {_upload(url, small()) for _ in range(2 * workers)})  # warm every worker
            started = time.time()
            ids = set(pool.map(lambda p: _upload(url, p), paths))
            ended = _wait(client, ids)
            finished = max(float(r["updated_at"]) for r in ended)
            out: dict[str, Any] = {"workers": workers, "images": len(paths)}
            out["failed"] = sum(r["status"] == "failed" for r in ended)
            out.update(seconds=finished - started, per_s=(len(ended) - out["failed"]) / (finished - started))
            if status_seconds:
                out["status"] = status_reads(url, next(iter(ids)), status_seconds)
        return out
    finally:
        cluster.stop_all()
        cluster.procs.clear()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    meta = machine.describe()
    paths = photos(args.images)
    runs: dict[str, list[dict[str, Any]]] = {"bare-2": [], "cluster-2": [], "cluster-1": []}
    with ExitStack() as stack:
        pg = stack.enter_context(running_postgres())
        weed = stack.enter_context(running_weed())
        for r in range(args.rounds):
            order = list(runs)
            order = order[r % 3 :] + order[: r % 3]
            for name in order:
                print(f"round {r + 1}/{args.rounds}: {name}", file=sys.stderr, flush=True)
                if name == "bare-2":
                    runs[name].append(bare.run(paths, 2, small()))
                    continue
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="imgflow-bench-cluster-")))
                last = r == args.rounds - 1 and name == "cluster-2"
                with cluster_env(root, pg.create_database("bench"), weed) as cluster:
                    runs[name].append(pipeline_run(cluster, paths, int(name[-1]), args.status_seconds if last else 0))
    meta["duration_s"] = round(time.perf_counter() - started)
    return {"meta": meta, "config": {"images": args.images, "rounds": args.rounds}, "runs": runs,
            "figures": figures(runs)}  # fmt: skip


def figures(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(name: str) -> float:
        return float(statistics.median(float(r["per_s"]) for r in runs[name]))

    status: dict[str, Any] = next((r["status"] for r in runs["cluster-2"] if "status" in r), {})
    bare_2, cluster_2, cluster_1 = median("bare-2"), median("cluster-2"), median("cluster-1")
    out: dict[str, Any] = {
        "bare_2_per_s": round(bare_2, 2),
        "cluster_2_per_s": round(cluster_2, 2),
        "cluster_1_per_s": round(cluster_1, 2),
        "status": status,
        "pipeline_vs_bare": round(cluster_2 / bare_2, 2),
        "two_vs_one": round(cluster_2 / cluster_1, 2),
    }
    # a read that failed does not count: errors make the figure 0
    out["status_per_s"] = status.get("per_s") if status.get("per_s") and not status.get("errors") else 0.0
    return out


def markdown(result: dict[str, Any]) -> str:
    f, meta = result["figures"], result["meta"]
    lines = [
        f"Measured by `make bench` (`python -m bench.cluster`) on {meta.get('cpu', 'this machine')}, "
        f"{result['config']['images']} corpus photos, {result['config']['rounds']} rounds, medians:",
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for key, what, goal in GOALS:
        value = f.get(key)
        met = "yes" if value is not None and value >= goal else "no"
        lines.append(f"| {what} | {value} | >= {goal:g} | {met} |")
    lines += ["", f"Images per second: bare 2 processes {f['bare_2_per_s']}, cluster 2 workers "
              f"{f['cluster_2_per_s']}, 1 worker {f['cluster_1_per_s']}. Status reads: {f['status']}."]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--status-seconds", type=int, default=10)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/cluster.md's table")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out: Path = args.results_dir / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    print(table)
    if not args.no_docs and DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            DOC.write_text(head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
