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
