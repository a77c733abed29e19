"""Crash recovery with real worker processes: a worker is paused from outside (SIGSTOP once it
holds the record), then killed, hung past its timeout, or the server itself is killed.

Every wait is bounded by a deadline far below the default 900 s lease, so without the
supervisor's recovery these tests fail; none asserts a duration.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from local.conftest import Server, alive, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

PHOTO = "photos/Dragonfly_by_Bolly.jpg"  # 13 MP progressive: long enough to be caught mid-job


def _jobs(server: Server, image_id: str) -> list[tuple[int, int]]:
    with sqlite3.connect(server.data_dir / "imgflow.db") as db:
        return db.execute("SELECT attempts, dead FROM jobs WHERE image_id = ?", (image_id,)).fetchall()


def _grant(server: Server, data: bytes) -> str:
    """A presigned upload asked for and never used: the record waits, no job is queued."""
    created = server.client.post(
        "/v1/uploads", json={"filename": "hopper.jpg", "content_type": "image/jpeg", "size": len(data)}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["image"]["image_id"])


def test_a_killed_workers_job_is_retaken_at_once_and_finishes_once(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=2)  # the default 900 s lease: only the supervisor can free the job in time
    image_id, victim = server.upload_and_pause(corpus / PHOTO, "image/jpeg")
    assert server.client.get(f"/v1/images/{image_id}").json()["attempts"] == 1
    os.kill(victim, signal.SIGKILL)

    final = server.wait_final(image_id, timeout=90)
    assert final["status"] == "done", final
    assert final["attempts"] == 2  # the killed attempt counts
    assert final["generation"] == 1
    released = server.wait_log(lambda x: x.get("message") == "job released" and x.get("image_id") == image_id)
    assert (released["reason"], released["worker"]) == ("worker_died", f"worker-{victim}")

    server.wait_log(lambda x: x.get("message") == "job handled" and x.get("image_id") == image_id)
    lines = server.log_lines()
    handled = [x for x in lines if x.get("message") == "job handled" and x.get("image_id") == image_id]
    assert [(x["attempt"], x["outcome"]) for x in handled] == [(2, "done")]
    assert handled[0]["pid"] != victim
    assert len([x for x in lines if x.get("message") == "image done" and x.get("image_id") == image_id]) == 1
    gens = sorted(p.name for p in (server.data_dir / "objects" / "renditions" / image_id).iterdir())
    assert gens == ["1"]
    on_disk = {p.name for p in (server.data_dir / "objects" / "renditions" / image_id / "1").iterdir()}
    assert on_disk == {r["url"].split("?")[0].rsplit("/", 1)[1] for r in final["renditions"]}
    assert _jobs(server, image_id) == []

    crash = server.wait_log(lambda x: x.get("message") == "worker exited; restarting" and x.get("worker_pid") == victim)
    assert crash["returncode"] == -signal.SIGKILL
    server.wait_log(lambda x: x.get("message") == "worker started" and x.get("restarts") == 1)
    assert server.stop() == 0


def test_a_job_past_its_timeout_fails_and_its_worker_is_replaced(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=1, job_timeout_seconds="3")
    image_id, hung = server.upload_and_pause(corpus / PHOTO, "image/jpeg")  # a stopped worker is a hung one

    final = server.wait_final(image_id, timeout=90)
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "timeout"
    assert "3 s timeout" in final["error"]["message"]
    assert final["renditions"] == []
    assert final["attempts"] == 1  # not retried
    wait_until("the hung worker to be killed", lambda: not alive(hung))
    assert _jobs(server, image_id) == []

    # a new worker took its place and works
    after = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    assert server.wait_final(after["image_id"], timeout=90)["status"] == "done"
    assert len(server.worker_pids()) == 2
    assert server.stop() == 0


def test_a_worker_past_its_memory_ceiling_fails_the_image_and_is_replaced(
    make_server: Callable[..., Server], corpus: Path, memory_bomb: Path
) -> None:
    server = make_server(workers=1, worker_memory_limit_mb="120")
    first = server.worker_pids()[0]
    bomb = server.upload_presigned(memory_bomb, "image/png")
    final = server.wait_final(bomb["image_id"], timeout=90)
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "memory_limit"
    assert "120 MiB" in final["error"]["message"]
    assert final["attempts"] == 1  # not retried
    wait_until("the bloated worker to be gone", lambda: not alive(first))

    after = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    assert server.wait_final(after["image_id"], timeout=90)["status"] == "done"
    assert server.stop() == 0


def test_killing_the_server_leaves_no_worker_and_a_restart_recovers(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=2)
    image_id, stopped = server.upload_and_pause(corpus / PHOTO, "image/jpeg")
    workers = server.worker_pids()
    assert stopped in workers
    assert len(workers) == 2
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    # the idle worker goes by itself; the stopped one gets its SIGTERM once it runs again
    os.kill(stopped, signal.SIGCONT)
    wait_until("every worker to exit", lambda: not any(alive(pid) for pid in workers))

    # what a killed writer leaves behind is cleared at the next start, and the data is served again
    stale = server.data_dir / "objects" / ".imgflow-tmp" / "data-stale"
    stale.write_bytes(b"half a rendition")
    half_key = server.data_dir / ".signing-stale"
    half_key.write_text("12")
    again = make_server(workers=1, data_dir=server.data_dir)
    assert not stale.exists()
    assert not half_key.exists()
    final = again.wait_final(image_id, timeout=90)
    assert final["status"] == "done", final
    assert again.stop() == 0


def test_a_job_held_by_a_worker_gone_with_its_server_is_released_at_the_next_start(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=1)
    image_id, stopped = server.upload_and_pause(corpus / PHOTO, "image/jpeg")
    os.kill(server.proc.pid, signal.SIGKILL)
    os.kill(stopped, signal.SIGKILL)  # the worker dies with its server, holding the job (900 s lease)
    server.proc.wait()
    wait_until("the worker to die", lambda: not alive(stopped))
    again = make_server(workers=1, data_dir=server.data_dir)
    final = again.wait_final(image_id, timeout=90)
    assert final["status"] == "done", final
    assert final["attempts"] == 2
    assert again.stop() == 0


def test_sigterm_lets_the_worker_finish_the_image_in_hand(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=1)
    image_id, worker = server.upload_and_pause(corpus / PHOTO, "image/jpeg")
    server.proc.send_signal(signal.SIGTERM)
    os.kill(worker, signal.SIGCONT)
    assert server.proc.wait(timeout=60) == 0
    with sqlite3.connect(server.data_dir / "imgflow.db") as db:
        (status,) = db.execute("SELECT status FROM images WHERE image_id = ?", (image_id,)).fetchone()
    assert status == "done"
    assert _jobs(server, image_id) == []
    assert any(x.get("message") == "stopped" for x in server.log_lines())
    assert not alive(worker)


def test_a_job_that_never_gets_through_is_dead_lettered_and_fails_with_its_reason(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    from imgflow.adapters.sqlite_queue import SqliteJobQueue

    server = make_server(workers=1, retry_delay_seconds="0.1", max_attempts="2")
    data = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    image_id = _grant(server, data)
    # the original is a symlink to itself: every delivery fails to read it (ELOOP: a retryable storage error)
    original = server.data_dir / "objects" / "originals" / image_id
    original.parent.mkdir(parents=True, exist_ok=True)
    original.symlink_to(original.name)
    queue = SqliteJobQueue(server.data_dir / "imgflow.db")
    try:
        queue.enqueue(image_id, 1)
        final = server.wait_final(image_id, timeout=90)
        assert final["status"] == "failed", final
        assert final["error"]["code"] == "dead_lettered"
        assert "gave up after 3 deliveries" in final["error"]["message"]
        assert "storage_error" in final["error"]["message"]
        assert queue.depth() == 0  # it left the live queue
        assert [(d.image_id, d.attempts) for d in queue.dead()] == [(image_id, 3)]
    finally:
        queue.close()
    assert server.client.get("/metrics").text.count('imgflow_queue_depth{state="dead"} 1.0') == 1


def test_the_reconcile_timer_redrives_an_upload_that_landed_unannounced(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=1, reconcile_interval_seconds="1", reconcile_grace_seconds="0")
    data = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    image_id = _grant(server, data)
    # the file arrives behind the server's back (as if its notification were lost): no job is queued
    target = server.data_dir / "objects" / "originals" / image_id
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    final = server.wait_final(image_id, timeout=60)
    assert final["status"] == "done", final
    line = server.wait_log(lambda x: x.get("message") == "reconcile sweep" and x.get("redriven", 0) >= 1)
    assert line["service"] == "imgflow-reconcile"
