"""An ``imgflow serve`` of this checkout on 127.0.0.1 for the pipeline figures: a fresh data folder,
a free port, N workers; uploads through the public API and waits for the records to settle."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.inputs import ROOT

FINAL = ("done", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has spent (``/proc/stat``: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def list_records(http: httpx.Client, status: str) -> list[dict[str, Any]]:
    """Every record with ``status``, a page of 100 at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": status, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/images", params=params)
        page.raise_for_status()
        body = page.json()
        items += body["items"]
        cursor = body.get("cursor")
        if not cursor:
            return items


def settled(http: httpx.Client, ids: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The done and failed records among ``ids``."""
    done = [r for r in list_records(http, "done") if r["image_id"] in ids]
    failed = [r for r in list_records(http, "failed") if r["image_id"] in ids]
    return done, failed


def wait_settled(
    http: httpx.Client, ids: set[str], timeout: float = 900.0, every: float = 0.5
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Until every one of ``ids`` is done or failed (or ``timeout``). Two listings per look, every
    ``every`` s: the benchmarks time a run by the records' ``updated_at``, so looking less often
    changes no figure, and it keeps the poller's own load off the cores being measured."""
    deadline = time.monotonic() + timeout
    while True:
        done, failed = settled(http, ids)
        if len(done) + len(failed) >= len(ids) or time.monotonic() > deadline:
            return done, failed
        time.sleep(every)


class LocalServer:
    """``imgflow serve --workers N`` in a temporary data folder; stop() sends SIGINT and waits."""

    def __init__(self, workers: int) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="imgflow-bench-serve-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
        env["IMGFLOW_AUTH"] = "none"
        command = [sys.executable, "-c", "from imgflow.cli.main import app; app()", "serve"]
        command += ["--port", str(self.port), "--data-dir", str(self.data), "--workers", str(workers)]
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=self.base, timeout=120)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("imgflow serve did not answer /healthz within 90 s")

    def workers(self) -> list[int]:
        """The worker processes' pids (the server's children running ``... local worker``)."""
        pids = []
        for pid in children(self.proc.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"worker" in command:
                pids.append(pid)
        return pids

    def upload(self, path: Path) -> str:
        data = path.read_bytes()
        kind = "image/png" if path.suffix == ".png" else "image/jpeg"
        grant = self.http.post("/v1/uploads", json={"filename": path.name, "content_type": kind, "size": len(data)})
        grant.raise_for_status()
        body = grant.json()
        upload = body["upload"]
        landed = self.http.post(str(upload["url"]), content=data, headers={"content-type": kind})
        landed.raise_for_status()
        return str(body["image"]["image_id"])

    def records(self, status: str) -> list[dict[str, Any]]:
        return list_records(self.http, status)

    def settled(self, ids: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return settled(self.http, ids)

    def wait(self, ids: set[str], timeout: float = 900.0, every: float = 0.5) -> tuple[list[Any], list[Any]]:
        return wait_settled(self.http, ids, timeout, every)

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
