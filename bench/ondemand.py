"""``python -m bench.ondemand``: on-demand ``/t/`` latency against a real ``imgflow serve``.

A 12 MP JPEG original to a 400 px WebP over HTTP: **cold** (a URL nobody asked for yet, so a
render; each sample a different quality so that none is a cache hit), sequentially, from the
default recipe's 2048 px rendition and from the original itself (a recipe without a full-view
rendition); and **warm** (one cached URL, many keep-alive connections at once) for throughput
and latency. Prints a table and writes ``bench/results/ondemand-<timestamp>.json`` and
``ondemand-latest.md``. The load generator shares the machine's cores with the server.

When thumbor is installed (``make bench-peers``), the same run also drives a warm thumbor server
(``bench.engine_thumbor``: file loader over a folder holding the same original, no storage, no
result storage, two engine threads) with the same operation, in the same table: cold samples
interleaved with imgflow's (each a different quality), then the warm case. thumbor has no result
cache here, so its "warm" requests render too. Otherwise the install hint replaces its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench import engine_thumbor, inputs, machine, peer

RESULTS = inputs.ROOT / "bench" / "results"
CONFIG = """\
recipes:
  default:
    name: default
    renditions:
      - {name: large, width: 2048, height: 2048, format: jpeg}
      - {name: thumb, width: 256, height: 256, format: webp}
  crops:
    name: crops
    renditions:
      - {name: square, width: 128, height: 128, fit: cover, format: webp}
ondemand:
  render_queue: 1000
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p99_ms": round(percentile(ms, 99), 2),
            "min_ms": round(min(ms), 2), "max_ms": round(max(ms), 2)}  # fmt: skip


class Server:
    def __init__(self, workdir: Path, renderers: int, processes: int = 1) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "imgflow.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGFLOW_")}
        env["IMGFLOW_ONDEMAND__RENDERERS"] = str(renderers)
        imgflow = Path(sys.executable).parent / "imgflow"
        self.log = (workdir / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [str(imgflow), "serve", "--port", str(self.port), "--data-dir", str(workdir / "data"),
             "--config", str(config), "--workers", "1", "--processes", str(processes)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.stop()
            tail = (workdir / "serve.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise SystemExit(f"imgflow serve did not start:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def upload(client: httpx.Client, path: Path, recipe: str) -> str:
    from imgflow.runtimes.local.client import Client, image_id_of

    with Client(str(client.base_url)) as api:
        image_id = image_id_of(api.upload(path, recipe=recipe))
        record = api.wait(image_id, timeout=300)
    if record["status"] != "done":
        raise SystemExit(f"the bench image did not process: {record.get('error')}")
    return image_id


def signed(client: httpx.Client, image_id: str, quality: int) -> str:
    resp = client.get(
        f"/v1/images/{image_id}/transform-url", params={"width": 400, "format": "webp", "quality": quality}
    )
    resp.raise_for_status()
    return str(resp.json()["url"])


def cold(client: httpx.Client, urls: dict[str, Callable[[int], str]], qualities: range) -> dict[str, list[float]]:
    """Sequential renders, the cases interleaved (one sample of each per quality)."""
    times: dict[str, list[float]] = {case: [] for case in urls}
    for q in qualities:
        for case, url_of in urls.items():
            url = url_of(q)
            start = time.perf_counter()
            resp = client.get(url)
            times[case].append((time.perf_counter() - start) * 1000)
            if resp.status_code != 200 or resp.headers["content-type"] != "image/webp":
                raise SystemExit(f"cold request failed ({case}): {resp.status_code} {resp.text[:200]}")
    return times


def webp_width(client: httpx.Client, url: str) -> int:
    import pyvips

    return int(pyvips.Image.new_from_buffer(client.get(url).content, "").width)


THUMBOR_NOTE = (
    "thumbor {version} (Pillow {pillow}), one warm server process with 2 engine threads, "
    "`/unsafe/400x0/filters:quality(Q):format(webp):strip_exif()/<file>` (400 px wide, same Q as imgflow's; "
    "WebP effort: thumbor has no setting, Pillow's default method 4 = the libvips effort 4 imgflow uses), "
    "file loader over the same original, no storage and no result storage: "
    "thumbor has no result cache here, so its warm requests render too."
)


def thumbor_server(source: Path) -> tuple[engine_thumbor.Thumbor, Callable[[int], str]]:
    """A warm thumbor serving ``source`` and the URL of its 400 px WebP at quality Q."""
    server = engine_thumbor.Thumbor()
    server.prepare(threads=2)
    assert server.staged is not None
    file = server.staged.name(source.read_bytes())
    base = f"http://127.0.0.1:{server.port}"
    return server, lambda q: f"{base}/unsafe/400x0/filters:quality({q}):format(webp):strip_exif()/{file}"


async def _connection(
    host: str, port: int, request: bytes, until: float, times: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            times.append((time.perf_counter() - start) * 1000)
            if status != b"200":
                errors.append(status.decode())
    finally:
        writer.close()


def warm(url: str, connections: int, seconds: float) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: image/webp\r\n\r\n".encode()
    times: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        until = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(*(_connection(host, port, request, until, times, errors) for _ in range(connections)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    return {**summary(times), "connections": connections, "seconds": round(elapsed, 2),
            "requests_per_s": round(len(times) / elapsed), "errors": len(errors)}  # fmt: skip


WARM_GOAL = 1000
COLD = "cold, from the 12 MP original"


def verdicts(result: dict[str, Any]) -> list[str]:
    """The goals (issue 13), each met or not met; thumbor's only when it ran."""
    cases = result["cases"]
    lines = []
    ours, theirs = cases[f"imgflow: {COLD}"], cases.get(f"thumbor: {COLD}")
    if result.get("thumbor") is None or theirs is None:
        lines.append(f"- thumbor is not installed, its rows are skipped: `{peer.INSTALL_HINT}`")
    else:
        met = ours["p50_ms"] < theirs["p50_ms"] and ours["p99_ms"] < theirs["p99_ms"]
        lines.append(
            f"- cold renders faster than thumbor's (12 MP original, p50 and p99): "
            f"{ours['p50_ms']}/{ours['p99_ms']} ms vs {theirs['p50_ms']}/{theirs['p99_ms']} ms: "
            f"**{'met' if met else 'not met'}**"
        )
    [warm_row] = [row for name, row in cases.items() if name.startswith("imgflow: warm")]
    met = warm_row["requests_per_s"] >= WARM_GOAL
    lines.append(
        f"- warm >= {WARM_GOAL:,} answers/s on {result['meta'].get('cpus', '?')} CPUs: "
        f"{warm_row['requests_per_s']:,}/s: **{'met' if met else 'not met'}**"
    )
    return lines


def markdown(result: dict[str, Any]) -> str:
    meta, source = result["meta"], result["input"]
    by_server = {case.split(":")[0]: w for case, w in result.get("output_widths", {}).items()}
    widths = ", ".join(f"{server} {w} px" for server, w in by_server.items()) or "?"
    lines = [
        "# On-demand benchmark", "",
        f"Run {meta['date']} on {meta.get('cpu', '?')} ({meta.get('cpus', '?')} CPUs), "
        f"Python {meta.get('python', '?')}, libvips {meta.get('libvips', '?')}. "
        f"{source['label']} ({source['width']}x{source['height']}) to a 400 px WebP, over HTTP against `imgflow serve` "
        f"({result['renderers']} render processes); the load generator runs on the same cores. "
        f"Output widths: {widths}.", "",
        "| case | requests | p50 ms | p99 ms | min-max ms | req/s |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, row in result["cases"].items():
        rps = row.get("requests_per_s", "")
        lines.append(
            f"| {name} | {row['n']} | {row['p50_ms']} | {row['p99_ms']} | {row['min_ms']}-{row['max_ms']} | {rps} |"
        )
    if result.get("thumbor") is not None:
        lines += ["", THUMBOR_NOTE.format(**result["thumbor"])]
    lines += ["", "Goals:", "", *verdicts(result)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ondemand", description=__doc__)
    parser.add_argument("--cold", type=int, default=30, help="cold samples per source (default 30)")
    parser.add_argument("--seconds", type=float, default=10.0, help="warm run length (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="warm keep-alive connections (default 32)")
    parser.add_argument("--renderers", type=int, default=2)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imgflow-bench-od-") as tmp:
        work = Path(tmp)
        [source] = inputs.build(inputs.corpus_dir(), work, ["12mp-exif6"])
        thumbor, thumbor_url, thumbor_meta = None, None, None
        if peer.thumbor_installed():
            thumbor, thumbor_url = thumbor_server(Path(source.path))
            versions = peer.versions()
            thumbor_meta = {"version": versions["thumbor"], "pillow": versions["thumbor_pillow"]}
        else:
            print(f"thumbor is not installed, its rows are skipped: {peer.INSTALL_HINT}", file=sys.stderr)
        server = Server(work, args.renderers)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                from_rendition = upload(client, Path(source.path), "default")
                from_original = upload(client, Path(source.path), "crops")
                qualities = range(99, 99 - args.cold, -1)
                urls: dict[str, Callable[[int], str]] = {
                    "imgflow: cold, from the 2048 px rendition": lambda q: signed(client, from_rendition, q),
                    f"imgflow: {COLD}": lambda q: signed(client, from_original, q),
                }
                if thumbor_url is not None:
                    urls[f"thumbor: {COLD}"] = thumbor_url
                widths = {case: webp_width(client, url_of(100)) for case, url_of in urls.items()}
                cases = {case: summary(ms) for case, ms in cold(client, urls, qualities).items()}
                url = signed(client, from_rendition, 80)
                client.get(url).raise_for_status()
                cases[f"imgflow: warm, {args.connections} connections"] = warm(url, args.connections, args.seconds)
                if thumbor_url is not None:
                    name = f"thumbor: warm (renders), {args.connections} connections"
                    cases[name] = warm(thumbor_url(80), args.connections, args.seconds)
        finally:
            server.stop()
            if thumbor is not None:
                thumbor.close()
    meta = machine.describe()
    result = {"meta": meta, "input": source.as_dict(), "renderers": args.renderers, "cases": cases,
              "thumbor": thumbor_meta, "output_widths": widths}  # fmt: skip
    write_results(args.results_dir, "ondemand", result, markdown(result))
    return 0


def write_results(results_dir: Path, name: str, result: dict[str, Any], text: str) -> None:
    """``{name}-<UTC stamp>.json`` and ``{name}-latest.md`` in ``results_dir``; the Markdown printed."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (results_dir / f"{name}-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (results_dir / f"{name}-latest.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
