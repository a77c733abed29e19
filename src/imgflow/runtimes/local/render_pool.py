"""The server's side of the render processes: send a job to a free one, bounded and timed.

At most one job per render process at a time, so renders running at once never exceed the
processes; up to ``queue`` more requests wait for one to come free, and beyond that a request
is refused at once (TooBusy: 429 with Retry-After). Two requests for the same cache entry share
one render. A render past ``timeout`` gets its process killed (the supervisor starts another) and
a RenderTimeout. Nothing here imports the image engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from imgflow.errors import ImgflowError, RenderTimeout, StorageError, TooBusy
from imgflow.ondemand.resolve import RenderJob
from imgflow.runtimes.local.render_proc import socket_path

log = logging.getLogger("imgflow.render")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class RenderError(ImgflowError):
    """A render process's own error answer, with its code and status."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = status if 400 <= status < 600 else 500


class RenderPool:
    def __init__(
        self,
        pids: Callable[[], list[int]],
        data_dir: Path,
        *,
        queue: int,
        timeout: float,
        kill: Callable[[int], None] = _kill,
    ) -> None:
        self.pids = pids
        self.data_dir = Path(data_dir)
        self.queue = queue
        self.timeout = timeout
        self.kill = kill
        self._busy: set[int] = set()
        self._waiting = 0
        self._freed: asyncio.Event | None = None
        self._inflight: dict[str, asyncio.Future[None]] = {}

    def _free(self) -> int | None:
        for pid in self.pids():
            if pid not in self._busy and socket_path(self.data_dir, pid).exists():
                return pid
        return None

    async def _acquire(self) -> int:
        pid = self._free()
        if pid is None:
            if self._waiting >= self.queue:
                raise TooBusy(f"{len(self._busy)} renders are running and {self._waiting} waiting; retry shortly")
            self._waiting += 1
            try:
                async with asyncio.timeout(self.timeout):
                    while pid is None:
                        if self._freed is None:
                            self._freed = asyncio.Event()
                        freed = self._freed
                        with contextlib.suppress(TimeoutError):  # a restarted process frees nothing: look again
                            await asyncio.wait_for(freed.wait(), 0.2)
                        pid = self._free()
            except TimeoutError:
                raise TooBusy("no renderer came free in time; retry shortly") from None
            finally:
                self._waiting -= 1
        self._busy.add(pid)
        return pid

    def _release(self, pid: int) -> None:
        self._busy.discard(pid)
        if self._freed is not None:
            self._freed.set()
            self._freed = None

    async def render(self, job: RenderJob) -> None:
        """Returns once the job's cache entry is written; raises an ImgflowError otherwise."""
        shared = self._inflight.get(job.cache_key)
        if shared is not None:
            await asyncio.shield(shared)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, even unshared
        self._inflight[job.cache_key] = future
        try:
            await self._render(job)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(None)
        finally:
            del self._inflight[job.cache_key]

    async def _render(self, job: RenderJob) -> None:
        pid = await self._acquire()
        writer = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_unix_connection(str(socket_path(self.data_dir, pid)))
                writer.write(json.dumps(job.to_dict()).encode() + b"\n")
                await writer.drain()
                line = await reader.readline()
        except TimeoutError:
            log.warning("render timed out; killing its process", extra={"render_pid": pid, "image_id": job.image_id})
            self.kill(pid)
            raise RenderTimeout(f"the render took longer than {self.timeout:g}s") from None
        except OSError as exc:
            raise StorageError(f"the renderer could not be reached ({type(exc).__name__})") from None
        finally:
            if writer is not None:
                writer.close()
            self._release(pid)
        if not line:
            raise StorageError("the renderer went away during the render")
        reply = json.loads(line)
        if not reply.get("ok"):
            message = str(reply.get("message") or "the render failed")
            raise RenderError(message, code=str(reply.get("code")), status=int(reply.get("status") or 500))
