"""thumbor 7 (Python, Pillow) as a peer: a warm server on 127.0.0.1, one request per output.

The server runs from its own virtualenv (``.venv-thumbor``, made by ``make bench-peers``) with the
file loader rooted at a private folder holding the input, no storage, no result storage,
``RESPECT_ORIENTATION = True``, EXIF not preserved (thumbor's default) and the ``strip_exif()``
filter on every URL, baseline JPEGs (``PROGRESSIVE_JPEG = False``, as the other engines write).
Each output is ``/unsafe/fit-in/<edge>x<edge>/filters:quality(q):format(f):strip_exif()/<file>``
(fit-in never enlarges). thumbor's own choice, counted against it: its JPEGs always get Huffman
optimisation (``optimize=True``). WebP effort: thumbor has no setting, Pillow's default 4 is used.
Thread budget N: one request at a time and no engine thread pool for N = 1; N requests at once and
``ENGINE_THREADPOOL_SIZE = N`` otherwise. Time is the six responses' wall time as the client sees
it; CPU time and peak RSS are the server process's.
"""

from __future__ import annotations

import atexit
import http.client
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from bench import peer
from bench.engines import JPEG_QUALITY, SIZES, WEBP_EFFORT, WEBP_QUALITY, Output

CONFIG = """\
LOADER = 'thumbor.loaders.file_loader'
FILE_LOADER_ROOT_PATH = {root!r}
STORAGE = 'thumbor.storages.no_storage'
RESULT_STORAGE = None
RESPECT_ORIENTATION = True
PRESERVE_EXIF_INFO = False
PROGRESSIVE_JPEG = False
AUTO_WEBP = False
QUALITY = {jpeg}
WEBP_QUALITY = {webp}
ENGINE_THREADPOOL_SIZE = {pool}
MAX_PIXELS = 75e6
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Thumbor:
    port: int = 0
    staged: peer.Staged | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pool: ThreadPoolExecutor | None = None

    def prepare(self, threads: int) -> None:
        if not peer.thumbor_installed():
            raise RuntimeError(f"thumbor is not installed: {peer.INSTALL_HINT}")
        self.staged = peer.Staged()
        conf = self.staged.root / "thumbor.conf"
        pool = threads if threads > 1 else 0
        conf.write_text(CONFIG.format(root=str(self.staged.root), jpeg=JPEG_QUALITY, webp=WEBP_QUALITY, pool=pool))
        self.port = _free_port()
        command = [str(peer.THUMBOR_VENV / "bin" / "thumbor"), "--ip", "127.0.0.1", "--port", str(self.port)]
        command += ["--conf", str(conf), "--log-level", "error"]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        atexit.register(self.close)
        self.pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self._get("/healthcheck")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("thumbor did not answer /healthcheck within 60 s")

    def helper_pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.staged is not None:
            self.staged.close()

    def _get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _one(self, name: str, fmt: str, edge: int, file: str) -> Output:
        quality = JPEG_QUALITY if fmt == "jpeg" else WEBP_QUALITY
        status, body = self._get(
            f"/unsafe/fit-in/{edge}x{edge}/filters:quality({quality}):format({fmt}):strip_exif()/{file}"
        )
        if status != 200:
            raise RuntimeError(f"thumbor answered {status} for {name} {fmt}")
        width, height = _size(body)
        return Output(name, fmt, width, height, len(body))

    def run(self, data: bytes, threads: int, webp_effort: int) -> list[Output]:
        assert self.staged is not None, "prepare() first"
        if webp_effort != WEBP_EFFORT:
            raise RuntimeError("thumbor has no WebP effort setting (Pillow's default, 4, only)")
        file = self.staged.name(data)
        # largest WebP first, as every engine orders its work
        tasks = [partial(self._one, name, fmt, edge, file) for name, edge in SIZES for fmt in ("webp", "jpeg")]
        if self.pool is None:
            return [task() for task in tasks]
        return list(self.pool.map(lambda task: task(), tasks))


def _size(body: bytes) -> tuple[int, int]:
    import pyvips

    image = pyvips.Image.new_from_buffer(body, "")
    return int(image.width), int(image.height)


engine = Thumbor()
