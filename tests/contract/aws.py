"""boto3 clients for moto server on loopback, and a hook that records which operations an adapter calls."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from testkit import free_port, running

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def client(service: str, endpoint: str, credentials: dict[str, str] | None = None) -> Any:
    config = Config(retries={"max_attempts": 2, "mode": "standard"})
    if service == "s3":
        # the wiring must do the same: presigned URLs signed with SigV4, path-style for loopback endpoints
        config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    creds = credentials or CREDENTIALS
    return boto3.client(service, endpoint_url=endpoint, config=config, **creds)  # type: ignore[call-overload]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class OperationLog:
    """Records every botocore operation a client makes (``before-call`` event)."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


#: moto server with one lock around every request. moto's own server runs requests on
#: parallel threads with no lock, so two conditional writes to one item can interleave,
#: which real DynamoDB never allows (it serializes writes to an item). Races are tested here.
SERIAL_MOTO = """
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

def serial(environ, start_response):
    with lock:
        return list(app(environ, start_response))

run_simple("127.0.0.1", int(sys.argv[1]), serial, threaded=True, request_handler=MotoRequestHandler)
"""


@contextmanager
def serial_moto(log: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-c", SERIAL_MOTO, str(port)], log, f"{url}/moto-api/"):
        yield url
