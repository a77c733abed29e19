"""``python -m bench.http``: the local server's HTTP figures (issue 18's P6 and P7).

Two ``imgflow serve`` of this checkout run side by side, one with one API process and one with
``--processes 2`` (1 worker and 1 render process each), on one small done image. In rotated
rounds, each for ``--seconds``: status reads (``GET /v1/images/{id}``, 16 connections), a cached
``/t/`` answer (32 connections) and ``/healthz`` (16 connections). Then, on the one-process
server, the status read one request at a time on a kept-alive connection and on a new
connection per request, interleaved in blocks: a kept connection must never be slower.

The load generator is ``wrk`` (C, one thread; ``make bench-peers`` installs it) on the same
cores, else an asyncio client that keeps its connections (it needs a core of its own, so its
figures are lower). Medians over rounds. Prints a table and writes ``bench/results/http-*.json``
and ``http-latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench import inputs, machine
from bench.ondemand import Server, summary, upload, warm, write_results

RESULTS = inputs.ROOT / "bench" / "results"
#: (case, connections, goal in answers/s or None): judged on the two-process server
CASES = [("status read", 16, 1000), ("cached /t/", 32, 3000), ("/healthz", 16, None)]
PHOTO = "photos/coffee.png"


def wrk(url: str, connections: int, seconds: float, accept: str | None = None) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if accept:
        command[1:1] = ["-H", f"Accept: {accept}"]
    text = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)

    def pct(p: str) -> float | None:
        found = re.search(rf"\b{p}%\s+([\d.]+)(us|ms|s)\b", text)
        if not found:
            return None
        return round(float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)], 2)

    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(x) for x in sockets.groups()) if sockets else 0)
    return {"requests_per_s": round(float(rate.group(1))) if rate else 0, "n": int(total.group(1)) if total else 0,
            "p50_ms": pct("50"), "p99_ms": pct("99"), "errors": errors}  # fmt: skip


def load(url: str, connections: int, seconds: float, accept: str | None) -> dict[str, Any]:
    if shutil.which("wrk"):
        return wrk(url, connections, seconds, accept)
    row = warm(url, connections, seconds)  # asyncio, kept-alive connections (asks for image/webp)
    return {k: row[k] for k in ("requests_per_s", "n", "p50_ms", "p99_ms", "errors")}


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _one(host: str, port: int, path: str, keep: Connection | None) -> float:
    start = time.perf_counter()
    if keep is None:
        reader, writer = await asyncio.open_connection(host, port)
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    else:
        reader, writer = keep
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    writer.write(request.encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(x.split(b":", 1)[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    elapsed = (time.perf_counter() - start) * 1000
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head[:40]!r}")
    if keep is None:
        writer.close()
        await writer.wait_closed()
    return elapsed


def kept_vs_new(url: str, requests: int, block: int = 25) -> dict[str, dict[str, float]]:
    """One request at a time, ``requests`` each way, in alternating blocks of ``block``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def main() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"kept-alive connection": [], "new connection per request": []}
        keep = await asyncio.open_connection(host, port)
        try:
            while len(times["kept-alive connection"]) < requests:
                for _ in range(block):
                    times["kept-alive connection"].append(await _one(host, port, parts.path, keep))
                for _ in range(block):
                    times["new connection per request"].append(await _one(host, port, parts.path, None))
        finally:
            keep[1].close()
        return times

    return {name: summary(ms) for name, ms in asyncio.run(main()).items()}


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    photo = inputs.corpus_dir() / PHOTO
    servers = {n: Server(work / f"p{n}", renderers=1, processes=n) for n in (1, 2)}
    try:
        urls: dict[int, dict[str, tuple[str, str | None]]] = {}
        for n, server in servers.items():
            with httpx.Client(base_url=server.url, timeout=120) as client:
                image_id = upload(client, photo, "default")
                record = client.get(f"/v1/images/{image_id}").json()
                transform = str(record["srcset"]).split(",")[0].strip().rsplit(" ", 1)[0]
                client.get(transform, headers={"accept": "image/webp"}).raise_for_status()  # now cached
            urls[n] = {
                "status read": (f"{server.url}/v1/images/{image_id}", None),
                "cached /t/": (transform, "image/webp"),
                "/healthz": (f"{server.url}/healthz", None),
            }
        runs: dict[str, list[dict[str, Any]]] = {}
        order = [(case, conns, n) for case, conns, _ in CASES for n in servers]
        for r in range(args.rounds):
            for case, conns, n in order[r % len(order) :] + order[: r % len(order)]:
                url, accept = urls[n][case]
                runs.setdefault(f"{case}|{n}", []).append(load(url, conns, args.seconds, accept))
        latency = kept_vs_new(urls[1]["status read"][0], args.latency_requests)
    finally:
        for server in servers.values():
            server.stop()
    rows = []
    for case, conns, goal in CASES:
        for n in servers:
            samples = runs[f"{case}|{n}"]
            rows.append({"case": case, "connections": conns, "processes": n, "goal": goal,
                         "requests_per_s": round(statistics.median(s["requests_per_s"] for s in samples)),
                         "rounds": [s["requests_per_s"] for s in samples],
                         "p50_ms": statistics.median(s["p50_ms"] or 0 for s in samples),
                         "p99_ms": statistics.median(s["p99_ms"] or 0 for s in samples),
                         "errors": sum(s["errors"] for s in samples)})  # fmt: skip
    return {"rows": rows, "latency": latency, "tool": "wrk 1 thread" if shutil.which("wrk") else "asyncio client"}


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in result["rows"]:
        if row["goal"] is not None and row["processes"] == 2:
            met = row["requests_per_s"] >= row["goal"] and row["errors"] == 0
            out.append({"goal": f"{row['case']} >= {row['goal']:,}/s at {row['connections']} connections, 0 errors",
                        "value": row["requests_per_s"], "met": met})  # fmt: skip
    kept, new = result["latency"]["kept-alive connection"], result["latency"]["new connection per request"]
    met = kept["p50_ms"] <= new["p50_ms"] and kept["p99_ms"] <= new["p99_ms"]
    value = f"{kept['p50_ms']}/{kept['p99_ms']} vs {new['p50_ms']}/{new['p99_ms']} ms"
    goal = "a kept-alive connection never slower than a new one (p50 and p99)"
    out.append({"goal": goal, "value": value, "met": met})
    return out


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        "# HTTP benchmark", "",
        f"Run {meta['date']} on {meta.get('cpu', '?')} ({meta.get('cpus', '?')} CPUs), "
        f"Python {meta.get('python', '?')}; "
        f"load average {result['load_before']} before, {result['load_after']} after. `imgflow serve` with 1 and "
        f"with 2 API processes side by side, one small done image; load by {result['tool']} on the same cores, "
        f"{result['seconds']:g} s per case, medians of {result['rounds']} rotated rounds.", "",
        "| case | connections | API processes | answers/s | rounds | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in result["rows"]:
        rounds = " / ".join(f"{x:,}" for x in row["rounds"])
        lines.append(f"| {row['case']} | {row['connections']} | {row['processes']} | {row['requests_per_s']:,} | "
                     f"{rounds} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} |")  # fmt: skip
    lines += ["", "One status read at a time (1 API process), interleaved blocks:", "",
              "| connection | requests | p50 ms | p99 ms | min-max ms |", "|---|---|---|---|---|"]  # fmt: skip
    for name, row in result["latency"].items():
        lines.append(f"| {name} | {row['n']} | {row['p50_ms']} | {row['p99_ms']} | {row['min_ms']}-{row['max_ms']} |")
    lines += ["", "| goal | value | verdict |", "|---|---|---|"]
    lines += [f"| {v['goal']} | {v['value']} | {'met' if v['met'] else 'NOT met'} |" for v in result["verdicts"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-requests", type=int, default=500, help="each way (default 500)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed (make bench-peers): using the asyncio client", file=sys.stderr)
    before = machine.load()
    with tempfile.TemporaryDirectory(prefix="imgflow-bench-http-") as tmp:
        result = measure(args, Path(tmp))
    result.update(meta=machine.describe(), load_before=before, load_after=machine.load(), seconds=args.seconds,
                  rounds=args.rounds)  # fmt: skip
    result["verdicts"] = verdicts(result)
    write_results(args.results_dir, "http", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
