"""A real ``imgflow serve`` process on a free port, driven over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit import free_port, wait_http

# The console script beside the interpreter running the tests (the project's virtualenv, wherever it is).
IMGFLOW = Path(sys.executable).parent / "imgflow"


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30.0)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return lines

    def wait_log(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if pred(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no matching log line within {timeout}s; log:\n{self.log_path.read_text()[-4000:]}")

    def upload_direct(self, path: Path, content_type: str) -> dict[str, Any]:
        resp = self.client.post(
            "/v1/images",
            content=path.read_bytes(),
            params={"filename": path.name},
            headers={"content-type": content_type},
        )
        assert resp.status_code == 202, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def upload_presigned(self, path: Path, content_type: str) -> dict[str, Any]:
        data = path.read_bytes()
        resp = self.client.post(
            "/v1/uploads", json={"filename": path.name, "content_type": content_type, "size": len(data)}
        )
        assert resp.status_code == 201, resp.text
        created: dict[str, Any] = resp.json()
        upload = created["upload"]
        landed = httpx.post(
            upload["url"], data=upload["fields"], files={upload["file_field"]: (path.name, data, content_type)}
        )
        assert landed.status_code in (200, 201, 204), landed.text
        image: dict[str, Any] = created["image"]
        return image

    def wait_final(self, image_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            record: dict[str, Any] = self.client.get(f"/v1/images/{image_id}").json()
            if record["status"] in ("done", "failed") or time.monotonic() > deadline:
                return record
            time.sleep(0.1)

    def pause_holder(self, image_id: str, timeout: float = 60.0) -> int | None:
        """SIGSTOP the worker once it has claimed ``image_id``'s record (``processing``): no race
        to win, a stopped worker stays in the middle of its job. None when the job ended before
        the worker could be stopped (the caller tries again with a slower or another image)."""
        claimed = self.wait_log(
            lambda x: x.get("message") == "job claimed" and x.get("image_id") == image_id, timeout=timeout
        )
        pid = int(claimed["pid"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, signal.SIGSTOP)
            record = self.client.get(f"/v1/images/{image_id}").json()
            if record["status"] == "processing":
                return pid
            if record["status"] in ("done", "failed"):
                os.kill(pid, signal.SIGCONT)
                return None
            os.kill(pid, signal.SIGCONT)  # the job is claimed but not yet the record: let it go on a little
            time.sleep(0.01)
        raise AssertionError(f"{image_id} never reached processing")

    def upload_and_pause(self, path: Path, content_type: str, tries: int = 5) -> tuple[str, int]:
        """Upload ``path`` and SIGSTOP the worker processing it: (image_id, worker pid)."""
        for _ in range(tries):
            image_id = str(self.upload_direct(path, content_type)["image_id"])
            pid = self.pause_holder(image_id)
            if pid is not None:
                return image_id, pid
        raise AssertionError(f"every job ended before its worker could be stopped ({tries} tries)")

    def worker_pids(self) -> list[int]:
        return [int(x["worker_pid"]) for x in self.log_lines() if x.get("message") == "worker started"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return int(self.proc.returncode)


def server_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGFLOW_", "PROMETHEUS_"))}
    env.update({"IMGFLOW_RECONCILE_INTERVAL_SECONDS": "3600", "PYTHONUNBUFFERED": "1"})
    env.update({f"IMGFLOW_{k.upper()}": v for k, v in settings.items()})
    return env


def start_server(
    tmp: Path, *, workers: int = 2, args: tuple[str, ...] = (), data_dir: Path | None = None, **settings: str
) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = data_dir or tmp / "data"
    log_path = tmp / "serve.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [str(IMGFLOW), "serve", "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=server_env(**settings),
            cwd=tmp,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", timeout=30, proc=proc)
    except RuntimeError as exc:
        proc.kill()
        raise AssertionError(f"{exc}\n{log_path.read_text()[-4000:]}") from exc
    return Server(url, port, data_dir, log_path, proc)


def alive(pid: int) -> bool:
    """Running (a zombie is dead too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split(") ", 1)[1][0] != "Z"


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """A deadline only bounds a hung test: nothing here asserts a duration."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} ({timeout}s)")
        time.sleep(0.05)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def make(**kwargs: Any) -> Server:
        server = start_server(tmp_path / f"s{len(started)}", **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve"), workers=2)
    yield srv
    code = srv.stop()
    assert code == 0, srv.log_path.read_text()[-4000:]


@pytest.fixture(scope="session")
def memory_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 190 KB PNG that a worker must hold whole to decode (16-bit, interlaced, 4500x4500: 121 MB of
    pixels; a worker peaks near 200 MiB on it), within every decode limit."""
    import pyvips

    n = 4500
    path = tmp_path_factory.mktemp("bomb") / "bomb16.png"
    shade = pyvips.Image.black(n, n, bands=3).linear([1, 1, 1], [1000, 20000, 40000])
    image = shade.cast("ushort")
    image.pngsave(str(path), interlace=True, bitdepth=16, compression=9)
    return path
