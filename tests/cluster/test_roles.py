"""The cluster's roles as real processes: db migrate, serve --role api, worker, sweep."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
import pytest
from clusterkit import Cluster, wait_status

from testkit import CORPUS

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

PHOTO = CORPUS / "edge/jpeg/hopper.jpg"


def test_migrate_is_idempotent_and_refuses_a_newer_schema(bare_cluster: Cluster) -> None:
    first = bare_cluster.run("db", "migrate")
    assert (first.returncode, first.stdout.strip()) == (0, "imgflow: the schema went from version 0 to 1")
    again = bare_cluster.run("db", "migrate")
    assert (again.returncode, again.stdout.strip()) == (0, "imgflow: the schema is up to date (version 1)")
    with psycopg.connect(bare_cluster.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO imgflow_schema (version) VALUES (99)")
    newer = bare_cluster.run("db", "migrate")
    assert newer.returncode == 2
    assert newer.stderr.strip().splitlines() == [
        "imgflow: the database's schema is version 99, newer than this imgflow knows (1): "
        "upgrade imgflow on this host before it touches that database"
    ]
    refused = bare_cluster.run("worker", "--concurrency", "1", timeout=30)
    assert refused.returncode == 2
    assert "version 99" in refused.stderr


def test_roles_refuse_to_start_without_a_schema_or_a_database(bare_cluster: Cluster) -> None:
    for argv in (("serve", "--role", "api", "--port", "1"), ("worker",), ("sweep", "--once")):
        done = bare_cluster.run(*argv, timeout=30)
        assert done.returncode == 2, (argv, done.stderr)
        assert "run `imgflow db migrate` first" in done.stderr, (argv, done.stderr)
    away = bare_cluster.run("db", "migrate", IMGFLOW_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x", timeout=60)
    assert away.returncode == 2
    assert away.stderr.splitlines() == [
        "imgflow: cannot reach PostgreSQL at 127.0.0.1:1/x: connection failed: connection to server at "
        '"127.0.0.1", port 1 failed: Connection refused Is the server running on that host and accepting TCP/IP '
        "connections?"
    ]


def test_wrong_role_for_the_backend_is_one_line(cluster: Cluster, tmp_path: Path) -> None:
    all_roles = cluster.run("serve", "--role", "all", "--port", "1")
    assert all_roles.returncode == 2
    assert "runs the API only (--role api)" in all_roles.stderr
    local = cluster.run("serve", "--role", "api", "--port", "1", IMGFLOW_BACKEND="local")
    assert local.returncode == 2
    assert "--role api needs the cluster backend" in local.stderr
    local_sweep = cluster.run("sweep", "--once", IMGFLOW_BACKEND="local")
    assert local_sweep.returncode == 2
    assert "for the cluster backend" in local_sweep.stderr


def test_direct_and_presigned_uploads_end_done_with_renditions_in_the_bucket(cluster: Cluster) -> None:
    url = cluster.api("--processes", "2")
    cluster.start("worker", "--concurrency", "2", log="worker.log")
    with httpx.Client(base_url=url, timeout=30) as client:
        direct = client.post("/v1/images?filename=h.jpg", content=PHOTO.read_bytes(),
                             headers={"content-type": "image/jpeg"})  # fmt: skip
        assert direct.status_code == 202, direct.text
        presigned = cluster.run("upload", str(PHOTO), "--via", "presigned", "--server", url, "--tag", "cluster")
        assert presigned.returncode == 0, presigned.stderr
        ids = [direct.json()["image_id"], presigned.stdout.split('"image_id": "')[1].split('"')[0]]
        for image_id in ids:
            record = wait_status(client, image_id)
            assert record["status"] == "done", record
            # on-demand URLs (a signing_key is shared), at the address this API role answers on
            assert record["srcset"].startswith(f"{url}/t/"), record
            keys = cluster.objects(cluster.renditions, f"renditions/{image_id}/")
            # identical renditions (a small image, several sizes) are stored once
            assert sorted(keys) == sorted(
                {unquote(urlsplit(r["url"]).path).split("/", 2)[2] for r in record["renditions"]}
            ), (keys, record["renditions"])
            assert {k.rsplit(".", 1)[1] for k in keys} == {"jpg", "webp"}, keys
            thumb = next(r for r in record["renditions"] if r["format"] == "webp")
            assert httpx.get(thumb["url"]).content[:4] == b"RIFF"
        assert cluster.objects(cluster.uploads, "originals/") == sorted(f"originals/{i}" for i in ids)
        listed = client.get("/v1/images?tag=cluster").json()["items"]
        assert [i["image_id"] for i in listed] == [ids[1]]
        metrics = client.get("/metrics").text
        assert 'imgflow_queue_depth{state="live"} 0.0' in metrics


def test_bad_input_fails_with_its_reason_and_the_worker_lives_on(cluster: Cluster) -> None:
    url = cluster.api()
    worker = cluster.start("worker", "--concurrency", "1", log="worker.log")
    with httpx.Client(base_url=url, timeout=30) as client:
        bad = client.post("/v1/images", content=(CORPUS / "edge/jpeg/truncated_jpeg.jpg").read_bytes(),
                          headers={"content-type": "image/jpeg"}).json()  # fmt: skip
        good = client.post("/v1/images", content=PHOTO.read_bytes(), headers={"content-type": "image/jpeg"}).json()
        failed = wait_status(client, bad["image_id"])
        assert (failed["status"], failed["error"]["code"]) == ("failed", "corrupt_image"), failed
        assert failed["error"]["message"], failed
        assert wait_status(client, good["image_id"])["status"] == "done"
    assert f"originals/{bad['image_id']}" in cluster.objects(cluster.uploads)  # the original is kept
    assert worker.poll() is None


def test_worker_stops_on_sigterm_and_its_children_go_with_it(cluster: Cluster) -> None:
    worker = cluster.start("worker", "--concurrency", "2", log="worker.log")
    deadline = time.monotonic() + 60
    while cluster.log("worker.log").count('"worker ready"') < 2:
        assert time.monotonic() < deadline, cluster.log("worker.log")
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    log = cluster.log("worker.log")
    assert log.count('"worker stopped"') == 2, log


def test_sweep_queues_a_presigned_upload_nobody_announced(cluster: Cluster) -> None:
    """The store sends no notification and the client never calls .../complete: the sweep's HEAD
    of the awaiting_upload key is the path that always works."""
    url = cluster.api()  # no worker yet: the sweep's own write is what is seen
    data = PHOTO.read_bytes()
    with httpx.Client(base_url=url, timeout=30) as client:
        created = client.post("/v1/uploads", json={"content_type": "image/jpeg", "size": len(data)}).json()
        up = created["upload"]
        landed = httpx.post(up["url"], data=up["fields"], files={up["file_field"]: ("a.jpg", data, "image/jpeg")})
        assert landed.status_code in (200, 201, 204), landed.text
        image_id = created["image"]["image_id"]
        time.sleep(1.5)
        assert client.get(f"/v1/images/{image_id}").json()["status"] == "awaiting_upload"
        swept = cluster.run("sweep", "--once", IMGFLOW_RECONCILE_GRACE_SECONDS="1")
        assert swept.returncode == 0, swept.stderr
        assert '"message":"reconcile sweep","requeued":1,' in swept.stdout, swept.stdout
        queued = client.get(f"/v1/images/{image_id}").json()
        assert (queued["status"], queued["size"]) == ("queued", len(data))  # landed: queued with its size
        cluster.start("worker", "--concurrency", "1", log="worker.log")
        assert wait_status(client, image_id)["status"] == "done"
