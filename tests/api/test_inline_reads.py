"""The status read and /healthz answer without a thread from the pool (locally): a hop there costs
more than the read itself, and a pool taken up by slow uploads must not hold reads up."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import httpx
from api_kit import BASE, Wiring, png


def test_status_reads_and_healthz_answer_while_the_thread_pool_is_taken(local_api: Wiring) -> None:
    resp = local_api.client.post("/v1/images?filename=a.png", content=png(), headers={"content-type": "image/png"})
    image_id = resp.json()["image_id"]
    assert local_api.service.handle_object_created(f"originals/{image_id}").kind == "done"

    async def scenario() -> list[httpx.Response]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        release = threading.Event()
        answers: list[httpx.Response] = []
        transport = httpx.ASGITransport(app=local_api.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client, anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, release.wait)  # the pool's only thread, busy
            while limiter.borrowed_tokens < 1:
                await anyio.sleep(0.01)
            try:
                with anyio.fail_after(20):  # not a timing assertion: without the fix this never answers
                    answers.append(await client.get("/healthz"))
                    answers.append(await client.get(f"/v1/images/{image_id}"))
            finally:
                release.set()
        return answers

    health, status = anyio.run(scenario)
    assert health.json()["status"] == "ok"
    assert status.status_code == 200
    assert status.headers["content-type"] == "application/json"
    assert status.json()["status"] == "done"
    assert status.json()["image_id"] == image_id


def test_reads_in_threads_are_bounded_by_read_threads(local_api: Wiring) -> None:
    """The cluster's reads run in threads, at most ``read_threads`` at once (its database pool's
    size): more threads at the database together stretched the read tail past a second."""
    import time

    from fastapi import FastAPI

    from imgflow.api.admission import admission
    from imgflow.api.images import images_router

    resp = local_api.client.post("/v1/images?filename=a.png", content=png(), headers={"content-type": "image/png"})
    image_id = resp.json()["image_id"]
    service = local_api.service
    real_get = service.get
    running: list[int] = []
    most = [0]
    lock = threading.Lock()

    def slow_get(*args: object) -> object:
        with lock:
            running.append(1)
            most[0] = max(most[0], len(running))
        try:
            time.sleep(0.05)  # long enough for the other requests to pile up
            return real_get(*args)  # type: ignore[arg-type]
        finally:
            with lock:
                running.pop()

    service.get = slow_get  # type: ignore[method-assign]

    def most_at_once(read_threads: int | None) -> int:
        most[0] = 0
        app = FastAPI()
        app.include_router(images_router(service, local_api.settings, admission(None, None), read_threads=read_threads))
        for name, value in local_api.app.state._state.items():  # who the caller is (auth), as the real app
            setattr(app.state, name, value)

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client, anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(client.get, f"/v1/images/{image_id}")

        anyio.run(scenario)
        return most[0]

    assert most_at_once(2) == 2
    assert most_at_once(None) > 2  # the default thread pool lets them all in
