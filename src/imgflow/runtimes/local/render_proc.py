"""A render process: ``python -m imgflow.runtimes.local render``, started by the supervisor.

It listens on ``data_dir/run/render-{pid}.sock``; the server connects, sends one job as a
JSON line and reads one JSON line back: ``{"ok": true, "bytes": n}`` once the cache entry
is written, or ``{"ok": false, "code": ..., "status": ..., "message": ...}``. One render at
a time: the server sends a process no second job before the first is answered, so the
number of render processes bounds the renders running at once. The image engine lives here,
never in the server process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from imgflow.errors import ImgflowError
from imgflow.ports import ObjectStore
from imgflow.records import original_key
from imgflow.settings import Settings

log = logging.getLogger("imgflow.render")

RUN_DIRNAME = "run"
MAX_REQUEST_BYTES = 64 * 1024


def socket_path(data_dir: Path, pid: int) -> Path:
    return Path(data_dir).resolve() / RUN_DIRNAME / f"render-{pid}.sock"


def live_render_pids(data_dir: Path) -> list[int]:
    """The render processes serving ``data_dir``, found by their sockets, each checked to be a live
    render process (a killed one leaves its socket behind, and its pid may be reused)."""
    pids = []
    for path in sorted((Path(data_dir) / RUN_DIRNAME).glob("render-*.sock")):
        text = path.stem.removeprefix("render-")
        if not text.isdigit():
            continue
        if _is_renderer(int(text)):
            pids.append(int(text))
    return pids


def _is_renderer(pid: int) -> bool:
    if not Path("/proc/self/cmdline").exists():  # no procfs: a live pid is all we can check
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"imgflow.runtimes.local" in command and b"render" in command


def _read_line(conn: socket.socket) -> bytes:
    chunks = b""
    while b"\n" not in chunks:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks += chunk
        if len(chunks) > MAX_REQUEST_BYTES:
            raise ValueError("request too long")
    return chunks.split(b"\n", 1)[0]


def source_stores(settings: Settings) -> tuple[ObjectStore, ObjectStore]:
    """Where a render reads its source, originals and renditions: the data folder's objects
    locally (one store), the two buckets on the cluster backend (any S3-compatible store)."""
    if settings.backend == "cluster":
        from imgflow.adapters.s3_store import S3ObjectStore
        from imgflow.bootstrap import s3_client

        s3 = s3_client(settings)
        return S3ObjectStore(s3, settings.uploads_bucket), S3ObjectStore(s3, settings.renditions_bucket)
    from imgflow.adapters.fs_store import FsObjectStore
    from imgflow.bootstrap import OBJECTS_DIR

    store = FsObjectStore(Path(settings.data_dir).resolve() / OBJECTS_DIR)
    return store, store


class RenderProcess:
    def __init__(self, settings: Settings) -> None:
        from imgflow.processing import engine
        from imgflow.runtimes.local.render_cache import CACHE_DIRNAME

        self.settings = settings
        self.limits = settings.limits
        data_dir = Path(settings.data_dir).resolve()
        self.stores = source_stores(settings)
        self.cache_root = data_dir / CACHE_DIRNAME
        self.path = socket_path(data_dir, os.getpid())
        self.stopping = False
        engine.engine(self.limits.accept, self.limits.threads)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from imgflow.ondemand.resolve import EXTENSIONS, RenderJob
        from imgflow.processing.transform import render_transform
        from imgflow.runtimes.local.render_cache import write_entry

        job = RenderJob.from_dict(request)
        originals, renditions = self.stores
        store = originals if job.source_key == original_key(job.image_id) else renditions
        data = store.get(job.source_key, max_bytes=self.limits.max_bytes)
        out = render_transform(data, job, self.limits)
        write_entry(self.cache_root, job.cache_key, EXTENSIONS[job.format], out)
        return {"ok": True, "bytes": len(out)}

    def _clear_stale(self) -> None:
        """Sockets of render processes that died without removing theirs (killed after a timeout)."""
        for stale in self.path.parent.glob("render-*.sock"):
            try:
                pid = int(stale.stem.removeprefix("render-"))
                os.kill(pid, 0)
            except ProcessLookupError:
                stale.unlink(missing_ok=True)
            except (ValueError, PermissionError):
                continue

    def serve(self) -> None:
        from imgflow.processing import heap

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clear_stale()
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        listener.bind(str(tmp))
        os.chmod(tmp, 0o600)
        listener.listen(4)
        os.replace(tmp, self.path)  # the socket appears only once it accepts
        listener.settimeout(0.5)
        log.info("renderer ready", extra={"socket": str(self.path)})
        rendered = False
        try:
            while not self.stopping:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if rendered:  # half a second without a render: the kept heap goes back
                        heap.release()
                        rendered = False
                    continue
                except InterruptedError:
                    continue
                with conn:
                    self._one(conn)
                rendered = True
        finally:
            listener.close()
            self.path.unlink(missing_ok=True)
        log.info("renderer stopped")

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(10.0)
        start = time.monotonic()
        try:
            request = json.loads(_read_line(conn))
            reply = self.handle(request)
        except ImgflowError as exc:
            reply = {"ok": False, "code": exc.code, "status": exc.http_status, "message": exc.message}
        except Exception:
            log.exception("render failed")
            reply = {"ok": False, "code": "render_failed", "status": 500, "message": "the render failed"}
        log.info(
            "render",
            extra={"ok": reply["ok"], "code": reply.get("code"), "duration_ms": int((time.monotonic() - start) * 1000)},
        )
        with contextlib.suppress(OSError):  # the server gave up on us (timeout) or went away
            conn.sendall(json.dumps(reply).encode() + b"\n")


def run_renderer(settings: Settings) -> None:
    proc = RenderProcess(settings)

    def stop(signum: int, frame: object) -> None:
        proc.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    proc.serve()
