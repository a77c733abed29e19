"""The one container image: `make image` builds it (on the mmdebstrap base and the wheels that
`make setup` made, fetching nothing), and inside it (`buildah run`, host network) imgflow answers
--help and takes one image through every role against the test PostgreSQL and SeaweedFS."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clusterkit import Cluster

from testkit import CORPUS, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BUILDAH = ["buildah", "--storage-driver", "vfs"]
ROUND_TRIP = """set -e
imgflow db migrate
imgflow serve --role api --port "$PORT" & api=$!
imgflow worker --concurrency 1 & worker=$!
python3 -c "
import time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1); break
    except OSError:
        time.sleep(0.2)
"
imgflow upload /tmp/photo.png --via presigned --server "http://127.0.0.1:$PORT"
kill -TERM "$worker" "$api"
wait "$worker" "$api" || true
"""


def _buildah(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("buildah") is None:
        raise RuntimeError("buildah is not installed (make setup installs it)")
    built = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "image"], capture_output=True,
                           text=True, timeout=1200, check=False)  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return "imgflow:latest"


@pytest.fixture
def container(image: str) -> Iterator[str]:
    made = _buildah("from", image)
    assert made.returncode == 0, made.stderr
    name = made.stdout.strip().splitlines()[-1]
    yield name
    _buildah("rm", name)


def test_the_image_is_non_root_with_imgflow_as_its_entrypoint(image: str) -> None:
    info = json.loads(_buildah("inspect", "--type", "image", image).stdout)
    config = info["Docker"]["config"]
    assert config["Entrypoint"] == ["imgflow"]
    assert config["User"] == "imgflow"
    assert config["Env"]
    assert "IMGFLOW_BACKEND=cluster" in config["Env"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])


def test_every_role_runs_inside_the_image(cluster: Cluster, container: str) -> None:
    helped = _buildah("run", "--isolation", "chroot", "--network", "host", container, "--", "imgflow", "--help")
    assert helped.returncode == 0, helped.stderr
    for role in ("serve", "worker", "sweep", "db"):
        assert f"  {role} " in helped.stdout, helped.stdout
    copied = _buildah("copy", "--chmod", "0644", container, str(CORPUS / "photos/coffee.png"), "/tmp/photo.png")
    assert copied.returncode == 0, copied.stderr
    env = {k: v for k, v in cluster.env.items() if k.startswith(("IMGFLOW_", "AWS_"))}
    env.update(IMGFLOW_HOST="127.0.0.1", IMGFLOW_DATA_DIR="/srv/imgflow/var", PORT=str(free_port()))
    env.pop("IMGFLOW_CORPUS", None)
    flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    ran = _buildah("run", "--isolation", "chroot", "--network", "host", *flags, container, "--",
                   "sh", "-c", ROUND_TRIP)  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    line = next(json.loads(x) for x in ran.stdout.splitlines() if x.startswith('{"file"'))
    assert line["status"] == "done", line
    image_id = line["image_id"]
    assert cluster.objects(cluster.uploads, "originals/") == [f"originals/{image_id}"]
    assert cluster.objects(cluster.renditions, f"renditions/{image_id}/")
