"""``python -m bench.loadtest`` (``make loadtest``): uploads into ``imgflow serve`` while workers are
killed with SIGKILL, then checks that nothing was lost and nothing waited on a lease.

The files are the corpus photos and its edge cases (bad files included), cycled up to
``--uploads``, all through the presigned path with the content type their extension names (a
file of a type imgflow does not accept is declared ``image/jpeg``, as a lying client would).
While the workers go through the backlog, a worker holding a job is killed ``--kills`` times.
Printed: uploads, done, failed, lost (not done/failed at the end: must be 0), whether the same
file always ended the same way, files whose outcome differs from what the corpus manifest
expects, and the tail: from the last moment a job waited in the queue to the last image ending.
Default settings (lease 900 s): a killed worker's job must be released by the supervisor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.inputs import corpus_dir

IMGFLOW = Path(sys.executable).parent / "imgflow"
TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
         ".avif": "image/avif", ".heif": "image/heif", ".tif": "image/tiff", ".tiff": "image/tiff"}  # fmt: skip


@dataclass(frozen=True)
class Sample:
    path: Path
    name: str
    content_type: str
    #: "done", "failed", or None (the manifest leaves it to the accept-list)
    expected: str | None


@dataclass
class Report:
    uploads: int = 0
    refused: int = 0
    done: int = 0
    failed: int = 0
    lost: int = 0
    kills: list[int] = field(default_factory=list)
    consistent: bool = True
    inconsistent: dict[str, list[str]] = field(default_factory=dict)
    unexpected: dict[str, str] = field(default_factory=dict)
    tail_seconds: float | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        tail = "n/a" if self.tail_seconds is None else f"{self.tail_seconds:.1f} s"
        return [
            f"uploads: {self.uploads} (refused at upload: {self.refused})",
            f"done: {self.done}",
            f"failed: {self.failed}",
            f"lost: {self.lost}",
            f"workers killed (SIGKILL, holding a job): {len(self.kills)}",
            f"same file, same outcome: {'yes' if self.consistent else 'NO: ' + json.dumps(self.inconsistent)}",
            f"outcome differs from the manifest: {len(self.unexpected)} {json.dumps(self.unexpected)}",
            f"backlog worked off -> last image ended: {tail}",
            f"whole run: {self.seconds:.1f} s",
        ]


def samples(corpus: Path) -> list[Sample]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    out = []
    for item in manifest["files"]:
        name = str(item["file"])
        if name.startswith("events/"):
            continue
        expected_text = str(item.get("expected", ""))
        expected = "done" if expected_text.startswith("must process") else None
        if expected_text.startswith(("must fail", "must reject")):
            expected = "failed"
        if " unless " in expected_text:  # "must reject ... unless a HEIF plugin is installed; then must process"
            expected = None
        content_type = TYPES.get(Path(name).suffix.lower(), "image/jpeg")
        out.append(Sample(corpus / name, name, content_type, expected))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _upload(client: httpx.Client, sample: Sample) -> str | None:
    data = sample.path.read_bytes()
    body = {"filename": Path(sample.name).name, "content_type": sample.content_type, "size": len(data)}
    created = client.post("/v1/uploads", json=body)
    if created.status_code != 201:
        return None
    grant = created.json()
    upload = grant["upload"]
    files = {upload["file_field"]: (Path(sample.name).name, data, sample.content_type)}
    landed = httpx.post(upload["url"], data=upload["fields"], files=files, timeout=60.0)
    if landed.status_code == 415:  # the local form refuses bytes of no accepted format, as the direct path does
        return None
    landed.raise_for_status()
    return str(grant["image"]["image_id"])


class Run:
    def __init__(self, data_dir: Path, workers: int, log: Path) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        self.db = data_dir / "imgflow.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGFLOW_", "PROMETHEUS_"))}
        argv = [str(IMGFLOW), "serve", "--port", str(self.port), "--data-dir", str(data_dir), "--workers", str(workers)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60.0)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.get("/healthz")
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"imgflow serve did not start; see {log}") from None
                time.sleep(0.1)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql).fetchall()

    def kill_a_busy_worker(self) -> int | None:
        rows = self.query("SELECT worker_id FROM jobs WHERE dead = 0 AND lease_token IS NOT NULL")
        for (worker_id,) in rows:
            pid = int(str(worker_id).rsplit("-", 1)[1])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            return pid
        return None

    def stop(self) -> None:
        self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run(uploads: int, *, workers: int = 2, kills: int = 2, corpus: Path | None = None,
        data_dir: Path | None = None, deadline: float = 1800.0) -> Report:  # fmt: skip
    pool = samples(corpus or corpus_dir())
    random.Random(0).shuffle(pool)  # photos and bad files mixed, the same order every run
    chosen = [pool[i % len(pool)] for i in range(uploads)]
    with tempfile.TemporaryDirectory(prefix="imgflow-loadtest-") as tmp:
        folder = data_dir or Path(tmp) / "data"
        server = Run(folder, workers, Path(tmp) / "serve.log")
        try:
            return _drive(server, chosen, kills, deadline)
        finally:
            server.stop()


def _drive(server: Run, chosen: list[Sample], kills: int, deadline: float) -> Report:
    report = Report()
    started = time.monotonic()
    ids: dict[str, Sample] = {}
    sent = threading.Event()

    def send() -> None:
        with ThreadPoolExecutor(4) as pool:
            for sample, image_id in zip(chosen, pool.map(lambda s: _upload(server.client, s), chosen), strict=True):
                if image_id is None:
                    report.refused += 1
                else:
                    ids[image_id] = sample
        sent.set()

    threading.Thread(target=send, daemon=True).start()
    # kill points: when this share of the uploads has ended
    marks = [(i + 1) / (kills + 1) for i in range(kills)]
    last_waiting = time.monotonic()
    ended = 0
    while time.monotonic() - started < deadline:
        now = time.monotonic()
        waiting = server.query("SELECT count(*) FROM jobs WHERE dead = 0 AND lease_token IS NULL")[0][0]
        if waiting or not sent.is_set():
            last_waiting = now
        ended = server.query("SELECT count(*) FROM images WHERE status IN ('done', 'failed')")[0][0]
        if marks and ended >= marks[0] * len(chosen):
            pid = server.kill_a_busy_worker()
            if pid is not None:
                report.kills.append(pid)
                marks.pop(0)
        if sent.is_set() and ended >= len(ids):
            report.tail_seconds = time.monotonic() - last_waiting
            break
        time.sleep(0.2)
    report.seconds = time.monotonic() - started
    _judge(server, ids, report)
    return report


def _judge(server: Run, ids: dict[str, Sample], report: Report) -> None:
    outcomes: dict[str, set[str]] = defaultdict(set)
    report.uploads = len(ids) + report.refused
    for image_id, sample in ids.items():
        record = server.client.get(f"/v1/images/{image_id}").json()
        status = record.get("status")
        if status == "done":
            report.done += 1
            outcomes[sample.name].add("done")
        elif status == "failed":
            report.failed += 1
            outcomes[sample.name].add(f"failed:{(record.get('error') or {}).get('code')}")
        else:
            report.lost += 1
            outcomes[sample.name].add(f"lost:{status}")
        if sample.expected is not None and status in ("done", "failed") and status != sample.expected:
            report.unexpected[sample.name] = f"{status} (manifest: {sample.expected})"
    report.inconsistent = {name: sorted(seen) for name, seen in outcomes.items() if len(seen) > 1}
    report.consistent = not report.inconsistent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.uploads, workers=args.workers, kills=args.kills)
    for line in report.lines():
        print(line)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.lost == 0 and report.consistent and len(report.kills) == args.kills else 1


if __name__ == "__main__":
    raise SystemExit(main())
