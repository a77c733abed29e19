"""A browser's CORS preflight through the API function as the open OPTIONS route delivers it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from imgflow.runtimes.aws import api_handler

from .lambda_events import FakeContext, http_api_event
from .provision import provision

ORIGINS = "https://app.example.com,https://admin.example.com"


@pytest.fixture
def handler(moto_endpoint: str, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    prefix = "cors" + uuid.uuid4().hex[:8]
    stack = provision(
        moto_endpoint,
        parameters={"NamePrefix": prefix, "CorsAllowedOrigins": ORIGINS, "RenditionDelivery": "presigned"},
        stack_name=prefix,
    )
    for name, value in stack.function_environment("ApiFunction").items():
        monkeypatch.setenv(name, value)
    api_handler.wiring.cache_clear()
    yield api_handler.handler
    api_handler.wiring.cache_clear()


def _preflight(origin: str) -> dict[str, Any]:
    event = http_api_event("OPTIONS", "/v1/uploads", sub=None)  # no authorizer on this route: no claims
    event["routeKey"] = event["requestContext"]["routeKey"] = "OPTIONS /{proxy+}"
    del event["headers"]["authorization"]
    event["headers"].update(
        {
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        }
    )
    return event


@pytest.mark.moto
def test_preflight_from_an_allowed_origin_gets_the_cors_headers(handler: Any) -> None:
    response = handler(_preflight("https://app.example.com"), FakeContext())
    assert 200 <= response["statusCode"] < 300, response
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"].lower()


@pytest.mark.moto
def test_preflight_from_another_origin_gets_none(handler: Any) -> None:
    response = handler(_preflight("https://evil.example"), FakeContext())
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert "access-control-allow-origin" not in headers
