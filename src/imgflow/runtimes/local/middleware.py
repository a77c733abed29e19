"""ASGI middleware of the local server: Host allow-list, security headers, upload counts, request logs.

Pure ASGI (no BaseHTTPMiddleware) so streamed file responses pass through untouched.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imgflow.api.problems import ProblemResponse, problem_document

log = logging.getLogger("imgflow.http")

_DIRECT = re.compile(r"^/v1/images/?$")
_PRESIGNED = re.compile(r"^/v1/local-uploads/[^/]+$")
_ORIGINALS = re.compile(r"^/v1/files/originals/")


def split_host(value: str) -> str:
    """The host part of a Host header, lower-cased: ``[::1]:8080`` -> ``[::1]``, ``a.b:80`` -> ``a.b``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end != -1 else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostAllowList:
    """Refuses (400) a request whose Host header is not one we serve: DNS-rebinding protection."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {split_host(h) for h in allowed if h}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = split_host(headers.get(b"host", b"").decode("latin-1"))
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        detail = "this server does not answer to that Host header (see allowed_hosts)"
        document = problem_document(400, "host_not_allowed", detail, scope.get("path"))
        response = ProblemResponse(document, status_code=400, headers={"x-content-type-options": "nosniff"})
        await response(scope, receive, send)


class LocalEdge:
    """Every response: ``nosniff``; originals only as attachments; one JSON log line; upload counts."""

    def __init__(self, app: ASGIApp, count_upload: Callable[[str], None]) -> None:
        self.app = app
        self.count_upload = count_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        start = time.monotonic()
        status_box: dict[str, Any] = {"status": 500}

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                headers.append((b"x-content-type-options", b"nosniff"))
                if _ORIGINALS.match(path) and not any(k.lower() == b"content-disposition" for k, _ in headers):
                    # the API already sends originals as attachments; this is the safety net
                    headers.append((b"content-disposition", b"attachment"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            status = int(status_box["status"])
            if method == "POST" and 200 <= status < 300:
                if _DIRECT.match(path):
                    self.count_upload("direct")
                elif _PRESIGNED.match(path):
                    self.count_upload("presigned")
            if path != "/metrics" and not path.startswith("/web/"):
                # reads that went well (the page polls a status every second) at DEBUG; writes and
                # every error at INFO
                quiet = method in ("GET", "HEAD") and status < 400
                log.log(
                    logging.DEBUG if quiet else logging.INFO,
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": int((time.monotonic() - start) * 1000),
                    },
                )
