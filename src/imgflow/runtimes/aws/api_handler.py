"""The HTTP API's Lambda entry point: the ASGI app through Mangum.

Accepts API Gateway HTTP API (payload v2), REST API (v1) and function URL
events. The owner is the JWT subject from the authorizer's claims, which the
app reads from ``scope["aws.event"]``.
"""

from __future__ import annotations

import binascii
import functools
import json
import warnings
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgflow.runtimes.aws.wiring import aws_settings, follow_config


@dataclass(frozen=True)
class ApiWiring:
    handler: Any
    app: Any
    #: follows the config object (the recipes uploads may name); None without one
    config: Any = None


@functools.cache
def wiring() -> ApiWiring:
    """Built on the first call, once per container (``wiring.cache_clear()`` forgets it)."""
    from mangum import Mangum
    from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

    from imgflow.bootstrap import build_app

    settings = aws_settings()
    app = build_app(settings)
    config = follow_config(settings, app.state.service)
    with warnings.catch_warnings():
        # Mangum asks asyncio for the current loop, which newer Pythons deprecate outside a loop.
        warnings.simplefilter("ignore", DeprecationWarning)
        # problem documents are text too: answer them as text, not base64
        handler = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"])
    return ApiWiring(handler=handler, app=app, config=config)


def problem(status: int, code: str, detail: str, instance: str | None) -> dict[str, Any]:
    """The app's problem+json document, in the shape every API Gateway payload version accepts."""
    from imgflow.api.problems import PROBLEM_TYPE, problem_document

    body = problem_document(status, code, detail, instance)
    return {
        "statusCode": status,
        "headers": {"content-type": PROBLEM_TYPE},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _bad_body(event: Mapping[str, Any]) -> str | None:
    """Why the body cannot be decoded, or None. API Gateway marks binary bodies base64."""
    body = event.get("body")
    if not event.get("isBase64Encoded") or not body:
        return None
    if not isinstance(body, str):
        return "the body is not a string"
    try:
        b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return "the body is marked base64-encoded but is not valid base64"
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reason = _bad_body(event)
    if reason is not None:
        path = event.get("rawPath") or event.get("path")
        return problem(400, "bad_request", reason, path if isinstance(path, str) else None)
    w = wiring()
    if w.config is not None:
        w.config.refresh()
    response: dict[str, Any] = w.handler(event, context)
    return response
