"""One cluster for a test: a migrated database of its own on the session's PostgreSQL, two
buckets of its own on the session's SeaweedFS, and the environment every role reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from testkit import free_port, wait_http

IMGFLOW = str(Path(sys.executable).parent / "imgflow")
SIGNING_KEY = "cluster-test-signing-key-0123456789abcdef"


@dataclass
class Cluster:
    env: dict[str, str]
    root: Path
    database_url: str
    uploads: str
    renditions: str
    s3: Any
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [IMGFLOW, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )

    def start(self, *args: str, log: str, **env: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:
            proc = subprocess.Popen(
                [IMGFLOW, *args], env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=self.root
            )
        self.procs.append(proc)
        return proc

    def api(self, *args: str, log: str = "api.log") -> str:
        """An API role on a port of its own: its base URL once it answers."""
        port = free_port()
        proc = self.start("serve", "--role", "api", "--port", str(port), *args, log=log)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", proc=proc)
        return url

    def log(self, name: str) -> str:
        return (self.root / name).read_text(errors="replace")

    def objects(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_status(client: httpx.Client, image_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The record once it ends (done or failed); a 503 (the database away) is waited out."""
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        resp = client.get(f"/v1/images/{image_id}")
        if resp.status_code == 200:
            record = resp.json()
            if record["status"] in ("done", "failed"):
                return record
        else:
            assert resp.status_code == 503, resp.text
        time.sleep(0.2)
    raise AssertionError(f"{image_id} did not end in {timeout} s: {record}")


@contextmanager
def cluster_env(root: Path, pg_url: str, weed: Any, **extra: str) -> Iterator[Cluster]:
    name = uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=weed.endpoint, **weed.credentials)
    uploads, renditions = f"up-{name}", f"ren-{name}"
    for bucket in (uploads, renditions):
        s3.create_bucket(Bucket=bucket)
    # nothing of another suite's settings or fake AWS session (moto's fixtures set AWS_SESSION_TOKEN)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IMGFLOW_")) or k == "IMGFLOW_CORPUS"}
    env = {
        **inherited,
        "IMGFLOW_BACKEND": "cluster",
        "IMGFLOW_DATABASE_URL": pg_url,
        "IMGFLOW_AWS_ENDPOINT_URL": weed.endpoint,
        "IMGFLOW_UPLOADS_BUCKET": uploads,
        "IMGFLOW_RENDITIONS_BUCKET": renditions,
        "AWS_ACCESS_KEY_ID": weed.credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": weed.credentials["aws_secret_access_key"],
        "IMGFLOW_DATA_DIR": str(root / "var"),
        "IMGFLOW_SIGNING_KEY": SIGNING_KEY,
        **extra,
    }
    cluster = Cluster(env, root, pg_url, uploads, renditions, s3)
    try:
        yield cluster
    finally:
        cluster.stop_all()
