"""Hostile clients against a real ``imgflow serve`` process, over raw sockets where the attack
lives below HTTP libraries: slow bodies, slow headers, aborted uploads, a busy grant, weak binds."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from testkit import free_port

from .conftest import IMGFLOW, Server, server_env

#: more slow uploads than the server's thread pool has threads (40)
ATTACKERS = 45
DECLARED = 10_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TYPE = {"content-type": "image/png"}


def _grant(server: Server) -> str:
    body = {"filename": "x.png", "content_type": "image/png", "size": DECLARED}
    created = server.client.post("/v1/uploads", json=body)
    assert created.status_code == 201, created.text
    url: str = created.json()["upload"]["url"]
    return url.removeprefix(server.url)


def _open(server: Server, request: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(request)
    return sock


def _slow_post(server: Server, path: str, *, length: int = DECLARED, first: bytes = b"\x89PNG\r\n") -> socket.socket:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    return _open(server, head.encode() + first)


def _until_closed(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (the socket's timeout catches a hang)."""
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    return got


@contextmanager
def _sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    with ExitStack() as stack:
        stack.callback(lambda: [s.close() for s in opened])
        yield opened


def test_slow_uploads_do_not_freeze_the_api(make_server: Callable[..., Server]) -> None:
    server = make_server(workers=1)
    grants = [_grant(server) for _ in range(ATTACKERS)]
    with _sockets() as attackers:
        attackers.extend(_slow_post(server, path) for path in grants)
        time.sleep(1.0)  # let every attacker reach its body
        for _ in range(5):  # before the fix: no pool thread was left, and these hung until the attackers left
            assert httpx.get(f"{server.url}/healthz", timeout=15).status_code == 200
            assert server.client.get("/v1/images", timeout=15).status_code == 200

        # one upload per grant at a time: a second request on a busy grant is refused at once
        busy = httpx.post(f"{server.url}{grants[0]}", content=PNG_SIGNATURE, headers=PNG_TYPE)
        assert busy.status_code == 409, busy.text
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.json()["code"] == "upload_in_progress"

        # a client that goes away mid-upload is a client abort in the log, not a server error
        attackers[0].close()
        aborted = server.wait_log(lambda x: x.get("message") == "client aborted the request")
        assert aborted["level"] in ("info", "warning")
        assert "exception" not in aborted
        lines = [x for x in server.log_lines() if x.get("message") == "request" and x.get("path") == grants[0]]
        assert [x["status"] for x in lines] == [409, 499]  # the busy refusal, then the aborted upload
        # ... and its grant is free again
        again = httpx.post(f"{server.url}{grants[0]}", content=PNG_SIGNATURE, headers=PNG_TYPE)
        assert again.status_code == 204, again.text
    assert not [x for x in server.log_lines() if x.get("level") in ("error", "critical") or "exception" in x]


def test_slow_headers_and_bodies_are_cut(make_server: Callable[..., Server]) -> None:
    server = make_server(workers=1, header_timeout_seconds="1", body_timeout_seconds="1", body_min_rate="1000")
    with _sockets() as socks:
        # headers that never end: the connection is closed, nothing answered
        socks.append(_open(server, f"POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-A: ".encode()))
        assert _until_closed(socks[-1]) == b""

        # a large Content-Length, a few bytes, then silence: 408 body_timeout, connection closed
        socks.append(_slow_post(server, "/v1/images", length=1_000_000))
        answer = _until_closed(socks[-1])
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b'"code":"body_timeout"' in answer
        assert re.search(rb"(?i)\r\nconnection: close\r\n", answer)

        # a trickle: a byte every 0.2 s keeps the body alive but below the minimum rate
        socks.append(_slow_post(server, _grant(server)))
        trickle = socks[-1]
        trickle.settimeout(0.2)
        answer = b""
        for _ in range(150):  # 30 s at most: a server that never cuts it fails here
            try:
                trickle.sendall(b"x")
                answer += trickle.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        trickle.settimeout(15)
        answer += _until_closed(trickle)  # the body may come in a later segment than the status line
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b'"code":"body_timeout"' in answer
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def _serve(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IMGFLOW), "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        env=server_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auth": "token", "api_token": "x"}, r"weak api_token: off loopback it needs at least 32 characters"),
        ({"auth": "token", "api_token": "a" * 40}, r"weak api_token"),
        ({"auth": "token", "api_token": "Vq3-hz8PLx0_2rTaYw9KcM4nB7eJdG1s"}, r"needs public_base_url"),
        (
            {
                "auth": "token",
                "api_token": "Vq3-hz8PLx0_2rTaYw9KcM4nB7eJdG1s",
                "public_base_url": "http://0.0.0.0:8080",
            },
            r"needs public_base_url",
        ),
    ],
)
def test_a_public_bind_needs_a_strong_token_and_a_public_url(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    proc = _serve(tmp_path, **settings)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not (tmp_path / "d").exists()
