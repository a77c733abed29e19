"""Request bodies are capped before any route reads them (and so before auth answers 401).

The app is driven through its ASGI interface with a ``receive`` that counts what it hands out,
so the tests see how much of a body the API pulled before answering.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from api_kit import local_settings, wire
from fastapi import FastAPI
from PIL import Image

from imgflow.api.limits import DEFAULT_BODY_CAP
from imgflow.bootstrap import build_app

TOKEN = "s3cret-token-0123456789"
CHUNK = b"x" * (16 * 1024)
#: far more than any cap: a body the API would buffer in full without one
ENDLESS = 20_000


def _drive(app: FastAPI, path: str, *, declared: int | None, chunks: int) -> tuple[int, dict[str, Any], int]:
    """POST ``chunks`` x 16 KiB to ``path``; the status, the JSON body and how many chunks were read."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": CHUNK, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 5555),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert dict(start["headers"])[b"content-type"] == b"application/problem+json"
    return start["status"], json.loads(body), pulled


@pytest.fixture
def token_app(tmp_path: Path) -> FastAPI:
    return build_app(local_settings(tmp_path, auth="token", api_token=TOKEN))


@pytest.mark.parametrize("path", ["/v1/uploads", "/v1/images/01J00000000000000000000000/reprocess"])
def test_a_declared_large_body_is_refused_unread(token_app: FastAPI, path: str) -> None:
    status, body, pulled = _drive(token_app, path, declared=ENDLESS * len(CHUNK), chunks=ENDLESS)
    assert (status, body["code"], pulled) == (413, "too_large", 0)


@pytest.mark.parametrize("path", ["/v1/uploads", "/v1/images/01J00000000000000000000000/reprocess"])
def test_a_streamed_large_body_is_cut_at_the_cap(token_app: FastAPI, path: str) -> None:
    status, body, pulled = _drive(token_app, path, declared=None, chunks=ENDLESS)
    assert (status, body["code"]) == (413, "too_large")
    assert pulled * len(CHUNK) <= DEFAULT_BODY_CAP + len(CHUNK)


def test_small_bodies_are_read_as_before(token_app: FastAPI) -> None:
    status, body, pulled = _drive(token_app, "/v1/uploads", declared=None, chunks=1)
    assert (status, body["code"], pulled) == (400, "invalid_json", 1)  # 16 KiB of "x": parsed, not capped


def test_the_upload_routes_keep_their_own_larger_caps(tmp_path: Path) -> None:
    noise = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    out = tmp_path / "noise.png"
    noise.save(out, format="PNG")
    data = out.read_bytes()
    assert len(data) > DEFAULT_BODY_CAP
    api = wire("local", local_settings(tmp_path / "data"))
    try:
        direct = api.client.post("/v1/images?filename=n.png", content=data, headers={"content-type": "image/png"})
        assert direct.status_code == 202, direct.text
        created = api.client.post(
            "/v1/uploads", json={"filename": "n.png", "content_type": "image/png", "size": len(data)}
        ).json()
        url = created["upload"]["url"].removeprefix("http://testserver")
        presigned = api.client.post(url, content=data, headers={"content-type": "image/png"})
        assert presigned.status_code == 204, presigned.text
        # a JSON body past the cap on an ordinary route, declared by httpx: 413 before auth or parsing
        big = api.client.post("/v1/uploads", content=b"{" + b" " * DEFAULT_BODY_CAP + b"}")
        assert (big.status_code, big.json()["code"]) == (413, "too_large")
    finally:
        api.client.close()
