"""``/docs`` works offline: the Swagger UI page and everything it loads come from the server itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from local.conftest import Server

pytestmark = [pytest.mark.e2e]


def test_swagger_ui_loads_every_asset_from_the_server(server: Server) -> None:
    page = server.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    refs += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)  # the OpenAPI document Swagger UI fetches
    assert any(r.endswith(".js") for r in refs), refs
    assert any(r.endswith(".css") for r in refs), refs
    assert "/openapi.json" in refs
    base = f"{server.url}/docs"
    for ref in refs:
        url = urljoin(base, ref)
        assert urlsplit(url).netloc == urlsplit(server.url).netloc, f"/docs loads {url} from elsewhere"
        resp = server.client.get(url)
        assert resp.status_code == 200, url
        assert resp.content, url
    assert "swagger" in server.client.get(next(r for r in refs if r.endswith(".js"))).text.lower()
