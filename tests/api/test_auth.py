"""Auth modes: none, a bearer token, and the JWT subject API Gateway's authorizer passes on."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from api_kit import Client, local_settings, png, wire
from mangum import Mangum

from imgflow.api.auth import jwt_subject

TOKEN = "s3cret-token-0123456789"


def test_token_mode(tmp_path: Path) -> None:
    api = wire("local", local_settings(tmp_path, auth="token", api_token=TOKEN))
    try:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}):
            resp = api.client.get("/v1/images", headers=headers)
            assert resp.status_code == 401
            assert resp.headers["www-authenticate"] == "Bearer"
            assert resp.json()["code"] == "unauthorized"
        for near in (TOKEN[:1], TOKEN[:-1], TOKEN + "x", TOKEN.upper()):  # a prefix or an extension is not it
            resp = api.client.get("/v1/images", headers={"authorization": f"Bearer {near}"})
            assert (resp.status_code, resp.json()["code"]) == (401, "unauthorized"), near
        for scheme in ("Bearer", "bearer", "BEARER"):  # the scheme is case-insensitive (RFC 9110)
            ok = api.client.get("/v1/images", headers={"authorization": f"{scheme} {TOKEN}"})
            assert ok.status_code == 200, scheme
        assert api.client.get("/healthz").status_code == 200  # health needs no token
    finally:
        api.client.close()


def _event(method: str, path: str, *, sub: str | None, body: bytes | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer leaves it."""
    ctx: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.test",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
        "requestId": "r",
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Jan/2025:00:00:00 +0000",
        "timeEpoch": 1735689600000,
    }
    if sub is not None:
        ctx["authorizer"] = {"jwt": {"claims": {"sub": sub, "iss": "https://issuer.test"}, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.test", "content-type": "application/octet-stream"},
        "requestContext": ctx,
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


def _body(resp: dict[str, Any]) -> Any:
    raw = resp["body"]
    return json.loads(base64.b64decode(raw) if resp.get("isBase64Encoded") else raw)


class _Context:
    function_name = "api"
    aws_request_id = "r"


@pytest.fixture
def lambda_api(tmp_path: Path) -> Any:
    api = wire("local", local_settings(tmp_path, auth="jwt"))
    api.client.close()
    return Mangum(api.app, lifespan="off")


def test_jwt_mode_scopes_by_subject(lambda_api: Any) -> None:
    created = lambda_api(_event("POST", "/v1/images", sub="alice", body=png()), _Context())
    assert created["statusCode"] == 202, created
    image_id = _body(created)["image_id"]
    mine = lambda_api(_event("GET", f"/v1/images/{image_id}", sub="alice"), _Context())
    assert mine["statusCode"] == 200
    theirs = lambda_api(_event("GET", f"/v1/images/{image_id}", sub="bob"), _Context())
    assert theirs["statusCode"] == 404
    assert _body(lambda_api(_event("GET", "/v1/images", sub="bob"), _Context()))["items"] == []


def test_jwt_mode_without_claims_is_401(lambda_api: Any, tmp_path: Path) -> None:
    resp = lambda_api(_event("GET", "/v1/images", sub=None), _Context())
    assert resp["statusCode"] == 401
    assert _body(resp)["code"] == "unauthorized"


def test_jwt_mode_outside_lambda_is_401(tmp_path: Path) -> None:
    api = wire("local", local_settings(tmp_path, auth="jwt"))
    try:
        assert api.client.get("/v1/images").status_code == 401
    finally:
        api.client.close()


def test_none_mode_is_the_local_owner(tmp_path: Path) -> None:
    api = wire("local", local_settings(tmp_path))
    other = Client(api.app)
    try:
        image_id = api.client.post("/v1/images", content=png()).json()["image_id"]
        assert api.service.get("local", image_id).owner == "local"
        assert other.get(f"/v1/images/{image_id}").status_code == 200
    finally:
        api.client.close()
        other.close()


def test_the_subject_from_either_api_gateway_payload() -> None:
    """HTTP API (payload 2.0) and REST API (1.0) authorizers put the claims in different places."""
    http_api = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "alice"}}}}}
    rest_api = {"requestContext": {"authorizer": {"claims": {"sub": "bob"}}}}
    assert (jwt_subject(http_api), jwt_subject(rest_api)) == ("alice", "bob")
    assert jwt_subject({"requestContext": {"authorizer": {"claims": {}}}}) is None
    assert jwt_subject(None) is None


@pytest.mark.parametrize(
    ("sub", "owner"),
    [("a" * 256, "a" * 256), ("a" * 257, None), ("al\nice", None), ("al\x00ice", None), ("", None), (42, None)],
    ids=["256-chars", "257-chars", "newline", "nul", "empty", "not-text"],
)
def test_a_subject_is_short_printable_text(sub: object, owner: str | None) -> None:
    assert jwt_subject({"requestContext": {"authorizer": {"jwt": {"claims": {"sub": sub}}}}}) == owner
