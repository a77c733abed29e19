"""The folder store's signed download links (what the record view gives with a token), served by the API app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from api_kit import BASE, Wiring, local_settings, png, wire

from imgflow.service import IMMUTABLE
from testkit import Clock


@pytest.fixture
def processed(tmp_path: Path, clock: Clock) -> Iterator[tuple[Wiring, str]]:
    api = wire("local", local_settings(tmp_path), clock=clock)
    image_id = api.client.post("/v1/images", content=png()).json()["image_id"]
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    yield api, image_id
    api.client.close()


def path_of(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


def signed_links(api: Wiring, image_id: str) -> list[str]:
    record = api.service.get("local", image_id)
    return [api.service.rendition_url(r.key) for r in record.renditions]


def test_renditions_are_served_inline_with_safe_headers(processed: tuple[Wiring, str]) -> None:
    api, image_id = processed
    url = next(u for u in signed_links(api, image_id) if ".webp?" in u)
    resp = api.client.get(path_of(url))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/webp"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["content-disposition"].startswith("inline")
    assert resp.headers["cache-control"] == IMMUTABLE
    assert "sandbox" in resp.headers["content-security-policy"]
    assert resp.content[:4] == b"RIFF"
    head = api.client.request("HEAD", path_of(url))
    assert head.status_code == 200


def test_originals_are_only_ever_attachments(processed: tuple[Wiring, str]) -> None:
    api, image_id = processed
    url = api.service.originals.download_url(f"originals/{image_id}", expires_in=60)
    resp = api.client.get(path_of(url))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-disposition"].startswith("attachment")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.content == png()


def test_tampered_missing_and_expired_links_are_refused(processed: tuple[Wiring, str], clock: Clock) -> None:
    api, image_id = processed
    url = signed_links(api, image_id)[0]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    other = f"renditions/{image_id}/1/other.jpg"
    cases = {
        f"{parts.path}?exp={query['exp'][0]}&sig=AAAA": "bad_signature",
        f"{parts.path}?exp={int(query['exp'][0]) + 1}&sig={query['sig'][0]}": "bad_signature",
        f"/v1/files/{other}?exp={query['exp'][0]}&sig={query['sig'][0]}": "bad_signature",
        parts.path: "bad_signature",
    }
    for path, code in cases.items():
        resp = api.client.get(path)
        assert (resp.status_code, resp.json()["code"]) == (403, code), path
    clock.now += api.settings.download_url_ttl + 1
    resp = api.client.get(path_of(url))
    assert (resp.status_code, resp.json()["code"]) == (403, "signature_expired")


@pytest.mark.parametrize("path", ["/v1/files/../signing.key?exp=9999999999&sig=x", "/v1/files/%2e%2e/x?exp=1&sig=x"])
def test_keys_cannot_escape_the_store(processed: tuple[Wiring, str], path: str) -> None:
    api, _ = processed
    resp = api.client.get(path)
    assert resp.status_code in (400, 403, 404)
    assert resp.headers["content-type"] == "application/problem+json"
