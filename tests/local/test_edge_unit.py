"""The local server's edge without a process: Host parsing, bind policy, the wrapped app."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from imgflow.errors import ConfigError
from imgflow.runtimes.local.app import build_local_app
from imgflow.runtimes.local.listen import check_bind, is_loopback
from imgflow.runtimes.local.middleware import split_host
from imgflow.settings import load_settings


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8080", "[::1]"),
        ("[::1]", "[::1]"),
        ("example.com:80", "example.com"),
        ("", ""),
    ],
)
def test_split_host(header: str, host: str) -> None:
    assert split_host(header) == host


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                            ("::", False), ("example.com", False)])  # fmt: skip
def test_is_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_bind_policy() -> None:
    check_bind(load_settings(environ={}, host="127.0.0.1"))
    with pytest.raises(ConfigError, match=r"refusing to serve on 0\.0\.0\.0 without authentication"):
        check_bind(load_settings(environ={}, host="0.0.0.0"))
    strong = "Vq3-hz8PLx0_2rTaYw9KcM4nB7eJdG1s"
    public = "http://images.example.lan:8080"
    check_bind(load_settings(environ={}, host="0.0.0.0", auth="token", api_token=strong, public_base_url=public))
    check_bind(load_settings(environ={}, host="127.0.0.1", auth="token", api_token="short"))  # loopback: any token
    for token, url, message in [
        ("s3cret-token-value", public, "weak api_token"),  # 18 characters
        ("ab" * 20, public, "weak api_token"),  # 40 characters, 2 distinct
        (strong, None, "needs public_base_url"),
        (strong, "http://0.0.0.0:8080", "needs public_base_url"),
        (strong, "http://[::]:8080", "needs public_base_url"),
    ]:
        extra = {"public_base_url": url} if url else {}
        settings = load_settings(environ={}, host="0.0.0.0", auth="token", api_token=token, **extra)
        with pytest.raises(ConfigError, match=message):
            check_bind(settings)


def _app(tmp_path: Path, counted: list[str]) -> ASGIApp:
    async def ok(request: Request) -> Response:
        return PlainTextResponse("api", headers={"x-content-type-options": "whatever"})

    async def original(request: Request) -> Response:
        return PlainTextResponse("bytes")

    api = Starlette(routes=[Route("/v1/images", ok, methods=["GET", "POST"]), Route("/v1/files/{key:path}", original)])
    settings = load_settings(environ={}, data_dir=tmp_path, public_base_url="http://127.0.0.1:9999")
    app = build_local_app(
        settings,
        api,
        queue_depth=lambda: {"live": 3},
        count_upload=counted.append,
        render_metrics=lambda depth: (f"depth {depth()['live']}\n".encode(), "text/plain"),
    )
    return app


def test_wrapped_app_serves_page_metrics_and_api_behind_the_edge(tmp_path: Path) -> None:
    counted: list[str] = []
    app = _app(tmp_path, counted)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9999") as client:
            page = await client.get("/")
            assert page.status_code == 200
            assert '<input id="file-input"' in page.text
            assert page.headers["x-content-type-options"] == "nosniff"
            assert (await client.get("/web/app.js")).status_code == 200
            assert (await client.get("/metrics")).text == "depth 3\n"
            api = await client.get("/v1/images")
            assert api.text == "api"
            assert api.headers.get_list("x-content-type-options") == ["nosniff"]
            assert (await client.post("/v1/images")).status_code == 200
            assert counted == ["direct"]
            original = await client.get("/v1/files/originals/abc")
            assert original.headers["content-disposition"] == "attachment"
            missing = await client.get("/web/nope.js")  # the outer app's own 404: a problem document too
            assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
            assert missing.json()["code"] == "not_found"
            evil = await client.get("/", headers={"host": "evil.example"})
            assert (evil.status_code, evil.headers["content-type"]) == (400, "application/problem+json")
            assert evil.json()["code"] == "host_not_allowed"
            assert evil.json()["type"] == "urn:imgflow:problem:host_not_allowed"
            assert (await client.get("/", headers={"host": "[::1]:9999"})).status_code == 200

    anyio.run(scenario)


def test_metrics_ask_for_the_token_when_auth_is_on(tmp_path: Path) -> None:
    token = "Vq3-hz8PLx0_2rTaYw9KcM4nB7eJdG1s"
    settings = load_settings(environ={}, data_dir=tmp_path, auth="token", api_token=token)
    app = build_local_app(
        settings,
        Starlette(),
        queue_depth=lambda: {"live": 3},
        count_upload=lambda path: None,
        render_metrics=lambda depth: (f"depth {depth()['live']}\n".encode(), "text/plain"),
    )

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {token}"}):
                refused = await client.get("/metrics", headers=headers)
                assert refused.status_code == 401, headers
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["www-authenticate"] == "Bearer"
                assert refused.json()["code"] == "unauthorized"
                assert "depth" not in refused.text
            scraped = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
            assert (scraped.status_code, scraped.text) == (200, "depth 3\n")

    anyio.run(scenario)
