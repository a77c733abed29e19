"""kill -9 the worker holding a job: the job is retaken when its lease expires and finishes once."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from local.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_a_killed_worker_job_finishes_exactly_once(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=2, test_hold_after_claim="2", lease_seconds="4")
    rec = server.upload_direct(corpus / "photos/coffee.png", "image/png")
    image_id = rec["image_id"]

    holding = server.wait_log(lambda x: x.get("message") == "holding job" and x.get("image_id") == image_id)
    victim = int(holding["pid"])
    during = server.client.get(f"/v1/images/{image_id}").json()
    assert during["status"] == "processing"
    assert during["attempts"] == 1
    os.kill(victim, signal.SIGKILL)

    final = server.wait_final(image_id, timeout=60)
    assert final["status"] == "done", final
    assert final["attempts"] == 2
    assert final["generation"] == 1

    server.wait_log(lambda x: x.get("message") == "job handled" and x.get("image_id") == image_id)
    lines = server.log_lines()
    handled = [x for x in lines if x.get("message") == "job handled" and x.get("image_id") == image_id]
    assert len(handled) == 1
    assert handled[0]["pid"] != victim
    assert handled[0]["attempt"] == 2  # the queue delivered the same job a second time
    assert [x for x in lines if x.get("message") == "image done" and x.get("image_id") == image_id].__len__() == 1

    # one generation of renditions on disk, and every one the record names is there
    gens = sorted(p.name for p in (server.data_dir / "objects" / "renditions" / image_id).iterdir())
    assert gens == ["1"]
    on_disk = {p.name for p in (server.data_dir / "objects" / "renditions" / image_id / "1").iterdir()}
    assert on_disk == {r["url"].split("?")[0].rsplit("/", 1)[1] for r in final["renditions"]}

    # the queue is empty and nothing was dead-lettered
    with sqlite3.connect(server.data_dir / "imgflow.db") as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0

    # the supervisor noticed the crash and started a replacement
    crash = server.wait_log(lambda x: x.get("message") == "worker exited; restarting" and x.get("worker_pid") == victim)
    assert crash["returncode"] == -signal.SIGKILL
    server.wait_log(lambda x: x.get("message") == "worker started" and x.get("restarts") == 1)
    assert not _alive(victim)
    assert server.stop() == 0


def test_sigterm_releases_a_held_job_and_exits_cleanly(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=1, test_hold_after_claim="30", lease_seconds="60")
    rec = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    image_id = rec["image_id"]
    server.wait_log(lambda x: x.get("message") == "holding job" and x.get("image_id") == image_id)
    assert server.stop(signal.SIGTERM, timeout=20) == 0
    # the worker gave the record's lease and the job back instead of sitting on them
    with sqlite3.connect(server.data_dir / "imgflow.db") as db:
        lease, attempts = db.execute(
            "SELECT lease_token, attempts FROM jobs WHERE image_id = ?", (image_id,)
        ).fetchone()
        (status,) = db.execute("SELECT status FROM images WHERE image_id = ?", (image_id,)).fetchone()
    assert lease is None
    assert attempts == 1
    assert status == "processing"  # lease released (expired at once): the next claim takes it
    assert any(x.get("message") == "stopped" for x in server.log_lines())

    # the next server on the same data takes the job up at once and finishes it
    again = make_server(workers=1, data_dir=server.data_dir)
    final = again.wait_final(image_id, timeout=30)
    assert final["status"] == "done", final
    assert final["attempts"] == 2


def test_after_max_attempts_the_record_fails_with_the_reason(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=1, test_hold_after_claim="2", lease_seconds="3", max_attempts="1")
    rec = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    image_id = rec["image_id"]
    holding = server.wait_log(lambda x: x.get("message") == "holding job" and x.get("image_id") == image_id)
    os.kill(int(holding["pid"]), signal.SIGKILL)
    final = server.wait_final(image_id, timeout=60)
    assert final["status"] == "failed", final
    assert final["error"]["code"] == "too_many_attempts"
    assert "1 attempts" in final["error"]["message"]
    assert final["renditions"] == []
    assert not (server.data_dir / "objects" / "renditions" / image_id).exists() or not any(
        (server.data_dir / "objects" / "renditions" / image_id).rglob("*.*")
    )


def test_the_reconcile_timer_redrives_an_upload_that_landed_unannounced(
    make_server: Callable[..., Server], corpus: Path
) -> None:
    server = make_server(workers=1, reconcile_interval_seconds="1", reconcile_grace_seconds="0")
    data = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    created = server.client.post(
        "/v1/uploads", json={"filename": "hopper.jpg", "content_type": "image/jpeg", "size": len(data)}
    ).json()
    image_id = created["image"]["image_id"]
    # the file arrives behind the server's back (as if its notification were lost): no job is queued
    target = server.data_dir / "objects" / "originals" / image_id
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    final = server.wait_final(image_id, timeout=60)
    assert final["status"] == "done", final
    line = server.wait_log(lambda x: x.get("message") == "reconcile sweep" and x.get("redriven", 0) >= 1)
    assert line["service"] == "imgflow-reconcile"
