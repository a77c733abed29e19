"""The API on both wirings, built by the one wiring function, driven through httpx's ASGI transport."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
from fastapi import FastAPI
from PIL import Image
from starlette.types import Receive, Scope, Send

from imgflow.bootstrap import aws_clients, build_app, build_service
from imgflow.service import ImageService
from imgflow.settings import Settings, load_settings

BASE = "http://testserver"


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, format="PNG")
    return out.getvalue()


class Client:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))`` (no deprecated TestClient)."""

    def __init__(self, app: FastAPI, base_url: str = BASE, headers: dict[str, str] | None = None) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers=headers)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)


@dataclass
class Wiring:
    name: str
    settings: Settings
    service: ImageService
    app: FastAPI
    client: Client

    def fetch(self, url: str) -> httpx.Response:
        """A URL the API handed out: served by this app (local) or by moto over real HTTP (aws)."""
        if url.startswith(BASE):
            return self.client.get(url[len(BASE) :])
        return httpx.get(url, timeout=10)


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(environ={}, backend="local", data_dir=data_dir, public_base_url=BASE, **overrides)


def aws_settings(endpoint: str, **overrides: Any) -> Settings:
    from imgflow.adapters.dynamo_schema import create_table

    suffix = uuid.uuid4().hex[:10]
    settings = load_settings(
        environ={},
        backend="aws",
        aws_endpoint_url=endpoint,
        aws_region="us-east-1",
        uploads_bucket=f"up-{suffix}",
        renditions_bucket=f"out-{suffix}",
        table_name=f"images-{suffix}",
        **overrides,
    )
    clients = aws_clients(settings)
    clients.s3.create_bucket(Bucket=settings.uploads_bucket)
    clients.s3.create_bucket(Bucket=settings.renditions_bucket)
    create_table(clients.dynamodb, settings.table_name)
    return settings


def wire(name: str, settings: Settings, *, clock: Callable[[], float] | None = None) -> Wiring:
    service = build_service(settings, with_processor=True, clock=clock)
    app = build_app(settings, service=service)
    return Wiring(name, settings, service, app, Client(app))


def as_subject(app: FastAPI) -> Any:
    """What API Gateway's JWT authorizer hands the app: the ``sub`` claim, here from a test header."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        subject = dict(scope.get("headers", ())).get(b"x-test-subject")
        if subject:
            claims = {"sub": subject.decode()}
            scope = {**scope, "aws.event": {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}}
        await app(scope, receive, send)

    return wrapped
