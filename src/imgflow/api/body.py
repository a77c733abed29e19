"""Request bodies: the one ``Content-Length`` parser and the per-request body cap.

:class:`~imgflow.api.limits.BodyCap` (middleware) parses ``Content-Length`` with
:func:`content_length` before any route runs and counts every body byte against the cap
the request carries in its scope: 64 KiB unless a route raised it with :func:`set_body_cap`
before reading (the upload routes). Routes read through :func:`body_chunks` and never count
bytes themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from fastapi import Request
from starlette.types import Scope

from imgflow.errors import BadRequest

#: the scope key holding this request's body cap in bytes
CAP_KEY = "imgflow.body_cap"
#: the scope key a body the server refused is marked with (the refusal's code): not a client abort
CUT_KEY = "imgflow.body_cut"


def content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The declared body length: None without the header; BadRequest (``invalid_content_length``)
    unless it is ASCII digits, the same in every copy (RFC 9110 section 8.6)."""
    values = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("Content-Length is given twice with different values", code="invalid_content_length")
    (value,) = values
    if not value or not value.isdigit() or len(value) > 19:  # bytes.isdigit: ASCII 0-9 only
        raise BadRequest("Content-Length is not a number of bytes", code="invalid_content_length")
    return int(value)


def body_cap(scope: Scope) -> int | None:
    cap = scope.get(CAP_KEY)
    return cap if isinstance(cap, int) else None


def set_body_cap(request: Request, cap: int) -> None:
    """Before a route reads its body: allow ``cap`` bytes instead of the default (the middleware
    then refuses a larger declared length unread, and cuts a stream at the first byte past it)."""
    request.scope[CAP_KEY] = cap


async def body_chunks(request: Request, cap: int) -> AsyncIterator[bytes]:
    """The body as it arrives, under ``cap`` bytes (413 ``too_large`` past it)."""
    set_body_cap(request, cap)
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def read_capped(request: Request, cap: int) -> bytes:
    return b"".join([chunk async for chunk in body_chunks(request, cap)])
