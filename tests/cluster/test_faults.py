"""Faults on the cluster backend: the database away, a worker gone, the store away."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from clusterkit import Cluster, wait_status

from imgflow.adapters.pg_catalog import PgCatalog
from imgflow.adapters.pg_db import Database
from imgflow.adapters.pg_queue import PgJobQueue
from imgflow.bootstrap import build_service
from imgflow.service import Kind
from imgflow.settings import load_settings
from pgkit import PgServer
from testkit import CORPUS, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

PHOTO = CORPUS / "edge/jpeg/hopper.jpg"


def _post(client: httpx.Client) -> httpx.Response:
    return client.post("/v1/images", content=PHOTO.read_bytes(), headers={"content-type": "image/jpeg"})


def test_the_database_away_is_503_with_retry_after_and_loses_nothing(cluster: Cluster, pg_server: PgServer) -> None:
    url = cluster.api("--processes", "2")
    with httpx.Client(base_url=url, timeout=30) as client:
        before = _post(client).json()
        pg_server.stop("immediate")  # as if it crashed
        try:
            for resp in (client.get(f"/v1/images/{before['image_id']}"), _post(client), client.get("/v1/images")):
                assert resp.status_code == 503, resp.text
                assert resp.headers["retry-after"].isdigit()
                assert resp.headers["content-type"] == "application/problem+json"
                assert resp.json()["code"] == "storage_error", resp.json()
            assert client.get("/healthz").status_code == 200  # the process is alive: not a restart case
        finally:
            pg_server.start()
        deadline = time.monotonic() + 30
        while (again := client.get(f"/v1/images/{before['image_id']}")).status_code != 200:
            assert again.status_code == 503, again.text
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert again.json()["status"] == "queued"  # accepted before the stop: still there, still queued
        cluster.start("worker", "--concurrency", "1", log="worker.log")
        assert wait_status(client, before["image_id"])["status"] == "done"


def test_a_job_held_by_a_dead_host_is_retaken_when_its_lease_ends(cluster: Cluster) -> None:
    url = cluster.api()
    with httpx.Client(base_url=url, timeout=30) as client:
        image = _post(client).json()
        queue = PgJobQueue(Database(cluster.database_url))
        try:
            taken = queue.claim("worker-4242@gone-host", lease_seconds=3)  # then that host lost power
            assert taken is not None
            assert taken.image_id == image["image_id"]
            cluster.start("worker", "--concurrency", "1", log="worker.log")
            time.sleep(1.5)
            assert [h.worker_id for h in queue.held()] == ["worker-4242@gone-host"]  # not this host's to release
            record = wait_status(client, image["image_id"])
            assert record["status"] == "done"
            assert record["attempts"] == 1  # the dead claim took no record lease; ours is the one attempt
        finally:
            queue.close()
    assert '"attempt": 2' in cluster.log("worker.log") or '"attempt":2' in cluster.log("worker.log")


def test_the_store_away_is_a_retry_not_a_failure(cluster: Cluster) -> None:
    url = cluster.api()
    with httpx.Client(base_url=url, timeout=30) as client:
        image = _post(client).json()
    dead_store = {**cluster.env, "IMGFLOW_AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    settings = load_settings(None, environ=dead_store)
    service = build_service(settings, with_processor=True)
    try:
        outcome = service.handle_object_created(f"originals/{image['image_id']}")
        assert outcome.kind == Kind.RETRY_LATER, outcome
        record = service.catalog.get(image["image_id"])
        assert record.status in ("queued", "processing"), record
        assert record.error is None
    finally:
        catalog: Any = service.catalog
        assert isinstance(catalog, PgCatalog)
        catalog.close()


def test_a_second_sweeper_skips_the_round_another_host_holds(cluster: Cluster) -> None:
    """The sweep runs under a transaction-level advisory lock: while one host sweeps, another's
    sweep_once answers None (skipped), and the lock is free again once that transaction ends."""
    from imgflow.adapters.pg_db import SWEEP_LOCK
    from imgflow.runtimes.cluster.sweep import sweep_once

    settings = load_settings(None, environ=cluster.env)
    service = build_service(settings, with_processor=False)
    holder = Database(cluster.database_url)
    try:
        with holder.transaction() as conn:
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SWEEP_LOCK,)).fetchone()
            assert row is not None
            assert row[0] is True
            assert sweep_once(service) is None  # another host is sweeping
        swept = sweep_once(service)
        assert swept is not None
        report, purged = swept
        assert (report.requeued, purged) == ([], 0)
    finally:
        holder.close()
        catalog: Any = service.catalog
        catalog.close()
