"""Storage failures answer 503 with a fixed detail: no bucket, table, role ARN, account or path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from api_kit import Client, Wiring
from botocore.exceptions import ClientError
from fastapi import FastAPI
from test_routes import problem

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.s3_store import translate
from imgflow.api import problems
from imgflow.api.problems import STORAGE_DETAIL
from imgflow.errors import ImgflowError, StorageError, StorageForbidden

ACCOUNT = "123456789012"
DENIED = (
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/imgflow-ApiRole-1AB2/fn is not authorized to perform: "
    f"dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/imgflow-ImagesTable-9QW"
)


def _denied(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": DENIED}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Op")


def _dynamo_failure(code: str) -> StorageError:
    catalog = DynamoCatalog(None, "imgflow-ImagesTable-9QW")  # type: ignore[arg-type]
    return catalog._fail(_denied(code, 400), "create 01J")


def test_a_broken_catalog_answers_503_without_its_path(local_api: Wiring, tmp_path: Path) -> None:
    local_api.service.catalog.close()  # type: ignore[attr-defined]
    resp = local_api.client.get("/v1/images")
    body = problem(resp, 503, "storage_error")
    assert body["detail"] == STORAGE_DETAIL
    assert str(tmp_path) not in resp.text
    assert ".db" not in resp.text
    assert resp.headers["retry-after"] == "5"


def test_access_denied_is_forbidden_and_not_retryable() -> None:
    errors: list[ImgflowError] = [
        _dynamo_failure("AccessDeniedException"),
        translate(_denied("AccessDenied", 403), f"s3://imgflow-uploads-{ACCOUNT}/originals/01J"),
        translate(_denied("403", 403), f"s3://imgflow-uploads-{ACCOUNT}/originals/01J"),
    ]
    for error in errors:
        assert isinstance(error, StorageForbidden), error
        assert not error.retryable
    throttled = translate(_denied("SlowDown", 503), "s3://b/k")
    assert type(throttled) is StorageError
    assert throttled.retryable


@pytest.mark.parametrize("code", ["AccessDeniedException", "ProvisionedThroughputExceededException"])
def test_aws_errors_reach_the_client_without_arns(code: str) -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise _dynamo_failure(code)

    client = Client(app)
    try:
        resp = client.get("/boom")
    finally:
        client.close()
    body = problem(resp, 503, "storage_forbidden" if code.startswith("AccessDenied") else "storage_error")
    assert body["detail"] == STORAGE_DETAIL
    for secret in (ACCOUNT, "arn:", "imgflow-ImagesTable", "assumed-role"):
        assert secret not in resp.text
    assert ("retry-after" in resp.headers) is (code != "AccessDeniedException")


_FULL_DISK_CHILD = """
import json, os, resource, sys
from pathlib import Path
sys.path[:0] = sys.argv[2:]
from api_kit import local_settings, png, wire

data_dir = Path(sys.argv[1])
api = wire("local", local_settings(data_dir))
body = png(8, 8)[:16] + os.urandom(2_000_000)
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, resource.RLIM_INFINITY))
resp = api.client.post("/v1/images?filename=a.png", content=body, headers={"content-type": "image/png"})
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
items = api.client.get("/v1/images").json()["items"]
print(json.dumps({"status": resp.status_code, "body": resp.json(), "items": items}))
api.client.close()
"""


def test_a_direct_upload_on_a_full_disk_is_503_and_leaves_no_record(tmp_path: Path) -> None:
    here = Path(__file__).parent
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, str(tmp_path), str(here), str(here.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == 503, out
    assert (out["body"]["code"], out["body"]["detail"]) == ("storage_error", STORAGE_DETAIL)
    assert out["items"] == []
    assert list((tmp_path / "objects" / ".imgflow-tmp").iterdir()) == []
