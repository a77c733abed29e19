"""The API served over real HTTP: uvicorn in a thread on a free loopback port."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from PIL import Image


def jpeg(width: int = 640, height: int = 480) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (width, height), (30, 120, 200))
    img.paste((240, 200, 20), (width // 4, height // 4, width // 2, height // 2))
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
