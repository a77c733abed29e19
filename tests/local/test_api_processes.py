"""``serve_processes``: N API processes on one listening socket, restarted when they die, stopped
in order; and ``imgflow serve --processes 2`` serving the real app (uploads, records, ``/t/``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit import CORPUS, free_port, wait_http

from .conftest import Server, alive, wait_until

# A module of its own, so that the spawned children can import the factory by name.
APP = textwrap.dedent(
    """
    import asyncio, os, sys
    from imgflow.runtimes.local.server import serve_processes

    def pid_app():
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            if scope["path"] == "/slow":
                await asyncio.sleep(1.0)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
        return app

    if __name__ == "__main__":
        port, processes = int(sys.argv[1]), int(sys.argv[2])
        print("done", serve_processes(pid_app, ("127.0.0.1", port), processes), flush=True)
    """
)


def _pid_on_new_connection(url: str) -> int:
    with httpx.Client(timeout=10) as client:  # a fresh connection each time
        return int(client.get(url).text)


@pytest.fixture
def pid_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    (tmp_path / "pidapp.py").write_text(APP)
    port = free_port()
    with (tmp_path / "out.txt").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "pidapp.py"), str(port), "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, timeout=60, proc=proc)
    yield proc, url
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pids_seen(url: str, want: int, tries: int = 400) -> set[int]:
    seen: set[int] = set()
    for _ in range(tries):
        seen.add(_pid_on_new_connection(url))
        if len(seen) >= want:
            break
    return seen


def test_two_processes_accept_on_one_port_and_a_dead_one_is_replaced(
    pid_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = pid_server
    wait_until("both API processes to answer", lambda: len(_pids_seen(url, 2, tries=50)) == 2, timeout=60)
    first = _pids_seen(url, 2)
    assert proc.pid not in first  # the parent only supervises
    for pid in first:
        assert Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1] == str(proc.pid)  # its children

    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_until("a new API process", lambda: len(_pids_seen(url, 2, tries=50) - {victim}) == 2, timeout=60)
    assert not alive(victim)


def test_a_stop_signal_finishes_requests_in_flight_and_stops_every_process(
    pid_server: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = pid_server
    children = _pids_seen(url, 2)
    with httpx.Client(timeout=30) as client:
        client.get(url)  # connected to one of them
        pending = client.build_request("GET", url + "slow")
        answers: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: answers.append(client.send(pending)))
        thread.start()
        time.sleep(0.3)  # the request is in flight (it takes 1 s)
        proc.send_signal(signal.SIGTERM)
        thread.join(30)
    assert [a.status_code for a in answers] == [200]
    assert proc.wait(timeout=60) == 0
    for pid in children:
        assert not alive(pid)


def test_imgflow_serve_with_two_api_processes_serves_the_whole_app(tmp_path: Path) -> None:
    photo = CORPUS / "photos" / "coffee.png"
    if not photo.exists():
        pytest.skip(f"the corpus is not at {CORPUS} (set IMGFLOW_CORPUS)")
    from .conftest import start_server

    server: Server = start_server(tmp_path, workers=1, args=("--processes", "2"))
    try:
        line = server.wait_log(lambda x: x.get("message") == "serving")
        assert line["processes"] == 2
        image_id = server.upload_direct(photo, "image/png")["image_id"]
        record = server.wait_final(image_id)
        assert record["status"] == "done", record
        # status reads and a /t/ render from whichever API process takes each new connection
        srcset_url = str(record["srcset"]).split(",")[0].strip().rsplit(" ", 1)[0]
        for _ in range(6):
            with httpx.Client(base_url=server.url, timeout=30) as fresh:
                assert fresh.get(f"/v1/images/{image_id}").json()["status"] == "done"
                rendered = fresh.get(srcset_url, headers={"accept": "image/webp,*/*"})
                assert rendered.status_code == 200, rendered.text
                assert rendered.headers["content-type"] == "image/webp"
    finally:
        assert server.stop() == 0
