"""The server's render pool against fake render processes (unix sockets that answer like one):
shared renders, the waiting line's bound, the timeout that kills a hung renderer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from imgflow.errors import RenderTimeout, TooBusy
from imgflow.ondemand.resolve import RenderJob, cache_key
from imgflow.runtimes.local.render_pool import RenderError, RenderPool
from imgflow.runtimes.local.render_proc import socket_path


def job(n: int) -> RenderJob:
    return RenderJob(
        image_id="x", generation=1, source_key="originals/x", resize_width=10, resize_height=10, width=10,
        height=10, gravity="centre", format="webp", quality=80, background=(255, 255, 255),
        cache_key=cache_key(f"/t/{n}", "webp"),
    )  # fmt: skip


Reply = Callable[[dict[str, object]], Awaitable[dict[str, object]]]


async def fake_renderers(data_dir: Path, pids: list[int], reply: Reply) -> list[asyncio.AbstractServer]:
    servers = []
    for pid in pids:

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = json.loads(await reader.readline())
            try:
                writer.write(json.dumps(await reply(request)).encode() + b"\n")
                await writer.drain()
            finally:
                writer.close()

        path = socket_path(data_dir, pid)
        path.parent.mkdir(parents=True, exist_ok=True)
        servers.append(await asyncio.start_unix_server(handle, path=str(path)))
    return servers


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_same_entry_shares_one_render_and_the_line_is_bounded(tmp_path: Path) -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def reply(request: dict[str, object]) -> dict[str, object]:
        calls.append(str(request["cache_key"]))
        await release.wait()
        return {"ok": True, "bytes": 1}

    async def scenario() -> None:
        servers = await fake_renderers(tmp_path, [101], reply)
        pool = RenderPool(lambda: [101], tmp_path, queue=1, timeout=5)
        first = asyncio.create_task(pool.render(job(1)))
        same = asyncio.create_task(pool.render(job(1)))
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(pool.render(job(2)))  # waits for the one renderer
        await asyncio.sleep(0.1)
        with pytest.raises(TooBusy):
            await pool.render(job(3))  # the line (1) is full
        release.set()
        await asyncio.gather(first, same, waiting)
        assert calls == [job(1).cache_key, job(2).cache_key]
        for server in servers:
            server.close()

    run(scenario())


def test_a_hung_render_times_out_and_its_process_is_killed(tmp_path: Path) -> None:
    killed: list[int] = []

    async def reply(request: dict[str, object]) -> dict[str, object]:
        await asyncio.sleep(10)
        return {"ok": True}

    async def scenario() -> None:
        servers = await fake_renderers(tmp_path, [202], reply)
        pool = RenderPool(lambda: [202], tmp_path, queue=0, timeout=0.3, kill=killed.append)
        with pytest.raises(RenderTimeout):
            await pool.render(job(1))
        assert killed == [202]
        for server in servers:
            server.close()

    run(scenario())


def test_a_renderers_refusal_keeps_its_code_and_status(tmp_path: Path) -> None:
    async def reply(request: dict[str, object]) -> dict[str, object]:
        return {"ok": False, "code": "corrupt_image", "status": 422, "message": "the jpeg image is corrupt"}

    async def scenario() -> None:
        servers = await fake_renderers(tmp_path, [303], reply)
        pool = RenderPool(lambda: [303], tmp_path, queue=0, timeout=5)
        with pytest.raises(RenderError) as caught:
            await pool.render(job(1))
        assert (caught.value.code, caught.value.http_status) == ("corrupt_image", 422)
        for server in servers:
            server.close()

    run(scenario())


def test_no_renderer_up_and_no_line_is_busy(tmp_path: Path) -> None:
    async def scenario() -> None:
        pool = RenderPool(lambda: [404], tmp_path, queue=0, timeout=5)  # its socket does not exist yet
        with pytest.raises(TooBusy):
            await pool.render(job(1))

    run(scenario())
