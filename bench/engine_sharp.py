"""sharp (Node.js, libvips) as a peer, in two shapes: ``each`` and ``cascade``.

``each`` makes every output as its own pipeline from the original bytes (shrink-on-load decode,
``rotate()`` for the EXIF orientation, ``resize`` inside the box without enlargement, encode), the
way a request-time image service runs it: one request, one output. ``cascade`` decodes once to the
2048 px base and resizes 2048 -> 1024 -> 256, encoding each size as JPEG and WebP, like imgflow.
Same settings as every engine: JPEG q82 4:2:0, WebP q80 at the given effort, no metadata (sharp's
default). The work runs in a warm Node.js process (``bench/peers/node/sharp_worker.mjs``) with
``UV_THREADPOOL_SIZE=N`` and ``sharp.concurrency(N)`` for a budget of N threads, the cache off;
its CPU time and peak RSS are that process's.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import IO

from bench import peer
from bench.engines import Output


@dataclass
class Sharp:
    mode: str
    staged: peer.Staged | None = None
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    def prepare(self, threads: int) -> None:
        if not peer.sharp_installed():
            raise RuntimeError(f"sharp is not installed: {peer.INSTALL_HINT}")
        env = dict(os.environ, UV_THREADPOOL_SIZE=str(threads), VIPS_CONCURRENCY=str(threads))
        env["BENCH_THREADS"] = str(threads)
        self.staged = peer.Staged()
        atexit.register(self.staged.close)
        self.proc = subprocess.Popen(
            ["node", "sharp_worker.mjs"],
            cwd=peer.NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def helper_pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def run(self, data: bytes, threads: int, webp_effort: int) -> list[Output]:
        if self.proc is None or self.staged is None:
            raise RuntimeError("prepare() first")
        path = self.staged.root / self.staged.name(data)
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        stdin.write(json.dumps({"path": str(path), "mode": self.mode, "effort": webp_effort}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the sharp worker exited with {self.proc.wait()}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(str(reply["error"])[:500])
        return [Output(**o) for o in reply["outputs"]]


each = Sharp("each")
cascade = Sharp("cascade")
