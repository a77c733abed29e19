"""A render process gives the allocator's kept heap back after half a second without a render,
once, and not before its first render."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from imgflow.processing import heap
from imgflow.runtimes.local.render_proc import RenderProcess
from imgflow.settings import load_settings


def test_a_render_process_gives_the_heap_back_when_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    released: list[float] = []
    monkeypatch.setattr(heap, "release", lambda: released.append(time.monotonic()) or True)
    renderer = RenderProcess(load_settings(environ={}, data_dir=tmp_path))
    thread = threading.Thread(target=renderer.serve, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not renderer.path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.2)  # two accept timeouts with nothing rendered: nothing to give back
        assert released == []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(renderer.path))
            conn.sendall(b"{}\n")  # not a job: answered with an error, still a render's work
            assert b'"ok": false' in conn.recv(4096)
        answered = time.monotonic()
        deadline = answered + 5
        while not released and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.2)  # more idle timeouts: no second release
    finally:
        renderer.stopping = True
        thread.join(5)
    assert len(released) == 1
    assert released[0] - answered >= 0.3
