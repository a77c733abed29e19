"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json``.

Every named error maps by its ``code`` and ``http_status``; validation errors name the
field; routing errors (404, 405) keep their status; anything unexpected is a 500 that
says nothing about the internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from imgflow.api.body import CUT_KEY
from imgflow.errors import Busy, ImgflowError, InvalidField, StorageError, Unauthorized

log = logging.getLogger("imgflow.api")

PROBLEM_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:imgflow:problem:"

#: the one ``detail`` a storage failure shows the client
STORAGE_DETAIL = "storage is unavailable; retry later"
#: what the request log shows for a request whose client went away (nginx's "client closed request")
CLIENT_CLOSED = 499

_ROUTING_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "too_large"}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_TYPE


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemResponse:
    body = {**problem_document(status, code, detail, request.url.path), **(extra or {})}
    return ProblemResponse(body, status_code=status, headers=headers)


def problem_document(status: int, code: str, detail: str, instance: str | None) -> dict[str, Any]:
    """An RFC 9457 problem document with imgflow's stable ``code``."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    return body


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _named(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ImgflowError)
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    if status >= 500 and not isinstance(exc, StorageError):
        log.error("error answered with %s: %s", status, exc.code, exc_info=exc)
        return problem(request, 500, "internal_error", "the server could not handle this request")
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Busy):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, StorageError):
        # the real message names buckets, tables, roles or paths: the log gets it, the client does not
        log.warning("storage failure (%s) answered with %s: %s", exc.code, status, exc.message)
        if exc.retryable:
            headers["Retry-After"] = "5"
        return problem(request, status, exc.code, STORAGE_DETAIL, headers=headers)
    extra = {"errors": [{"field": exc.field, "message": exc.reason}]} if isinstance(exc, InvalidField) else None
    return problem(request, status, exc.code, exc.message, headers=headers, extra=extra)


async def _validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        errors = [{"field": "body", "message": "not valid JSON"}]
        return problem(request, 400, "invalid_json", "the request body is not valid JSON", extra={"errors": errors})
    errors = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return problem(request, 422, "validation_error", detail, extra={"errors": errors})


async def _routing(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _ROUTING_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    return problem(request, exc.status_code, code, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "routes", ()):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed the connection before its body ended: nobody gets an answer, and it is
    no server error. A body the server itself cut (too large, too slow) was answered already."""
    cut = request.scope.get(CUT_KEY)
    if cut is None:
        log.info("client aborted the request", extra={"method": request.method, "path": request.url.path})
    return Response(status_code=CLIENT_CLOSED if cut is None else 400)


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(request, 500, "internal_error", "the server could not handle this request")


def install_routing(app: Starlette) -> None:
    """Routing refusals (404, 405) of an app around the API (the local server's page and
    ``/metrics``) as the same problem documents."""
    app.add_exception_handler(StarletteHTTPException, _routing)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ImgflowError, _named)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _routing)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)


# --- OpenAPI: the same documents, described per route ------------------------------
_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "example": TYPE_PREFIX + "not_found"},
        "title": {"type": "string", "example": "Not Found"},
        "status": {"type": "integer", "example": 404},
        "detail": {"type": "string"},
        "code": {"type": "string", "example": "not_found"},
        "instance": {"type": "string", "example": "/v1/images/01J0000000000000000000000"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_DESCRIPTIONS = {
    400: "Bad request (malformed JSON, bad cursor, bad Content-Length)",
    401: "Missing or wrong credentials",
    403: "Bad or expired signature",
    404: "No such image (or not yours)",
    405: "Method not allowed",
    408: "The request body stopped arriving, or arrived too slowly",
    409: "The image is not in a state that allows this (or its upload is already under way)",
    412: "The image changed since the version `If-Match` names; read it again",
    413: "Too large",
    415: "Unsupported image type",
    422: "Validation error; `errors` names each field",
    429: "Too many of your images are waiting to be processed; retry after `Retry-After` seconds",
    503: "Storage is unavailable; retry",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status as a problem document."""
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {PROBLEM_TYPE: {"schema": _PROBLEM_SCHEMA}}}
        for status in statuses
    }
