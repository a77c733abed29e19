"""The cluster end to end: 2 API roles and 2 worker roles (as on separate hosts), uploads
through both APIs, direct and presigned, a worker killed -9 and PostgreSQL restarted mid-run:
every image ends as its file deserves, renditions in the bucket, nothing lost, no 5xx but 503."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from clusterkit import Cluster, wait_status

from pgkit import PgServer
from testkit import CORPUS

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]

UPLOADS = 300
FILES = [
    (CORPUS / "edge/jpeg/hopper.jpg", "image/jpeg", "done"),
    (CORPUS / "photos/coffee.png", "image/png", "done"),
    (CORPUS / "edge/jpeg/truncated_jpeg.jpg", "image/jpeg", "failed"),
]


class Statuses:
    """Every status code the clients saw."""

    def __init__(self) -> None:
        self.seen: Counter[int] = Counter()
        self.lock = threading.Lock()

    def add(self, code: int) -> None:
        with self.lock:
            self.seen[code] += 1


def _retrying(statuses: Statuses, call: Any) -> httpx.Response:
    """The request again while it answers 503 (or the connection drops): a client that reads Retry-After."""
    for _ in range(200):
        try:
            resp: httpx.Response = call()
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        statuses.add(resp.status_code)
        if resp.status_code != 503:
            return resp
        time.sleep(min(1.0, float(resp.headers.get("retry-after", "1"))))
    raise AssertionError("still 503 after 200 tries")


def _upload(client: httpx.Client, statuses: Statuses, n: int) -> tuple[str, str]:
    path, content_type, expected = FILES[n % len(FILES)]
    data = path.read_bytes()
    if n % 2 == 0:
        resp = _retrying(statuses, lambda: client.post("/v1/images", content=data,
                                                       headers={"content-type": content_type}))  # fmt: skip
        assert resp.status_code == 202, resp.text
        return resp.json()["image_id"], expected
    body = {"content_type": content_type, "size": len(data), "filename": path.name}
    created = _retrying(statuses, lambda: client.post("/v1/uploads", json=body))
    assert created.status_code == 201, created.text
    up = created.json()["upload"]
    landed = httpx.post(up["url"], data=up["fields"], files={up["file_field"]: (path.name, data, content_type)})
    assert landed.status_code in (200, 201, 204), landed.text
    image_id = created.json()["image"]["image_id"]
    done = _retrying(statuses, lambda: client.post(f"/v1/uploads/{image_id}/complete"))
    assert done.status_code == 202, done.text
    return image_id, expected


def _worker_pids(cluster: Cluster, log: str) -> list[int]:
    pids = []
    for line in cluster.log(log).splitlines():
        if line.startswith("{") and '"worker started"' in line:
            pids.append(int(json.loads(line)["worker_pid"]))
    return pids


def test_two_apis_two_workers_a_kill_and_a_database_restart(cluster: Cluster, pg_server: PgServer) -> None:
    apis = [cluster.api("--processes", "2", log="api-a.log"), cluster.api(log="api-b.log")]
    for name in ("worker-a.log", "worker-b.log"):
        cluster.start("worker", "--concurrency", "1", log=name)
    deadline = time.monotonic() + 60
    while not all('"worker ready"' in cluster.log(n) for n in ("worker-a.log", "worker-b.log")):
        assert time.monotonic() < deadline, cluster.log("worker-a.log")
        time.sleep(0.2)
    statuses = Statuses()
    clients = [httpx.Client(base_url=url, timeout=60) for url in apis]
    try:
        turn = itertools.count()
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(_upload, clients[n % 2], statuses, n) for n in range(UPLOADS)]
            while next(turn) < 100 and sum(f.done() for f in futures) < UPLOADS // 3:
                time.sleep(0.1)
            victim = _worker_pids(cluster, "worker-a.log")[0]
            os.kill(victim, signal.SIGKILL)  # mid-run: its job goes back at once (same host's guard)
            while sum(f.done() for f in futures) < UPLOADS * 2 // 3:
                time.sleep(0.1)
            pg_server.restart("immediate")  # every pool's connections die at once
            uploaded = [f.result() for f in futures]
        ended = {image_id: wait_status(clients[0], image_id, timeout=180) for image_id, _ in uploaded}
    finally:
        for client in clients:
            client.close()
    wrong = {i: (r["status"], expected) for (i, expected), r in zip(uploaded, ended.values(), strict=True)
             if r["status"] != expected}  # fmt: skip
    assert not wrong, wrong
    for record in ended.values():
        if record["status"] == "failed":
            assert record["error"]["code"] == "corrupt_image", record
    # An upload whose answer was a 503 (the database went away between storing the file and
    # queueing it) was retried by its client under a new id; the first is kept, awaiting_upload
    # with its file, and the sweep queues it: nothing accepted is lost, nothing is left behind.
    originals = set(cluster.objects(cluster.uploads, "originals/"))
    assert originals >= {f"originals/{i}" for i in ended}
    extras = sorted(k.split("/", 1)[1] for k in originals - {f"originals/{i}" for i in ended})
    if extras:
        swept = cluster.run("sweep", "--once", IMGFLOW_RECONCILE_GRACE_SECONDS="0")
        assert swept.returncode == 0, swept.stderr
        with httpx.Client(base_url=apis[0], timeout=60) as client:
            for image_id in extras:
                record = wait_status(client, image_id, timeout=120)
                assert record["status"] == "done" or record["error"]["code"] == "corrupt_image", record
                ended[image_id] = record
    renditions = cluster.objects(cluster.renditions, "renditions/")
    done = {i for i, r in ended.items() if r["status"] == "done"}
    assert {k.split("/")[1] for k in renditions} == done
    print("statuses seen:", dict(statuses.seen), "retried uploads kept:", len(extras))
    assert not [c for c in statuses.seen if c >= 500 and c != 503], statuses.seen
    assert len(_worker_pids(cluster, "worker-a.log")) >= 2  # the killed worker was replaced
    assert victim not in _worker_pids(cluster, "worker-a.log")[1:]
