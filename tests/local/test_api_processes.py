"""``serve_processes``: N API processes on one listening socket, restarted when they die, stopped
in order; and ``imgflow serve --processes 2`` serving the real app (uploads, records, ``/t/``)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imgflow.runtimes.local.api_processes import take_turns
from imgflow.runtimes.local.listen import bind
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
            body = str(os.getpid()).encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
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


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


def test_a_burst_of_kept_connections_is_shared_out(pid_server: tuple[subprocess.Popen[bytes], str]) -> None:
    _, url = pid_server
    port = int(url.rsplit(":", 1)[1].strip("/"))
    _pids_seen(url, 2)  # both are up

    def burst() -> set[int]:
        # all at once, as a load generator opens them: every one is waiting before any process wakes
        conns = [socket.socket() for _ in range(32)]
        for conn in conns:
            conn.setblocking(False)
            conn.connect_ex(("127.0.0.1", port))
        select.select([], conns, [], 10)
        try:
            for conn in conns:
                conn.setblocking(True)
                conn.settimeout(10)
                conn.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            return {int(_read_all(conn).rsplit(b"\r\n\r\n", 1)[1]) for conn in conns}
        finally:
            for conn in conns:
                conn.close()

    wait_until("a burst served by both processes", lambda: len(burst()) == 2, timeout=60)


def test_a_shared_socket_takes_one_connection_per_turn() -> None:
    listening = bind("127.0.0.1", 0)
    listening.listen(8)
    shared = take_turns(listening)
    assert shared.proto == socket.IPPROTO_TCP  # so asyncio still sets TCP_NODELAY on what it accepts
    port = shared.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        first, _ = shared.accept()
        with pytest.raises(BlockingIOError):
            shared.accept()  # this turn is over, though two more wait
        second, _ = shared.accept()
        first.close()
        second.close()
    finally:
        for client in clients:
            client.close()
        shared.close()


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
