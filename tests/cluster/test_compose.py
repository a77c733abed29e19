"""compose.yaml and the Containerfile: what they name exists and runs. (No container can run
on these machines: the compose file's imgflow commands are started here, as processes, against
the test PostgreSQL and SeaweedFS, with the same role arguments.)"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from clusterkit import Cluster, wait_status

from testkit import CORPUS, free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return doc


def test_containerfile_is_one_non_root_image_for_every_role() -> None:
    text = (ROOT / "Containerfile").read_text()
    assert re.search(r"^ARG BASE=debian:bookworm-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user
    assert user[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["imgflow"\]$', text, re.M)
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    for sources in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source


def test_compose_names_every_role_on_the_same_image() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "s3", "migrate", "api", "worker", "sweep"}
    roles = {name: s["command"][:2] for name, s in services.items() if s.get("image") == "imgflow:latest"}
    assert roles == {"migrate": ["db", "migrate"], "api": ["serve", "--role"], "worker": ["worker", "--concurrency"],
                     "sweep": ["sweep"]}  # fmt: skip
    envs = {name: services[name]["environment"]["IMGFLOW_BACKEND"] for name in roles}
    assert set(envs.values()) == {"cluster"}
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.cluster
@pytest.mark.e2e
def test_the_compose_commands_run_a_cluster(cluster: Cluster) -> None:
    services = _compose()["services"]
    migrate = cluster.run(*services["migrate"]["command"])
    assert migrate.returncode == 0, migrate.stderr
    api_args = list(services["api"]["command"])
    port = free_port()
    api_args[api_args.index("--port") + 1] = str(port)
    api = cluster.start(*api_args, log="api.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc=api)
    cluster.start(*services["worker"]["command"], log="worker.log")
    cluster.start(*services["sweep"]["command"], "--interval", "1", log="sweep.log")
    with httpx.Client(base_url=url, timeout=30) as client:
        image = client.post("/v1/images", content=(CORPUS / "photos/coffee.png").read_bytes(),
                            headers={"content-type": "image/png"}).json()  # fmt: skip
        assert wait_status(client, image["image_id"])["status"] == "done"
    deadline = time.monotonic() + 30
    while cluster.log("sweep.log").count('"reconcile sweep"') < 2:  # it keeps sweeping, one round a second
        assert time.monotonic() < deadline, cluster.log("sweep.log")
        time.sleep(0.2)
