"""Request bodies with a byte cap: refused by Content-Length before reading, counted otherwise."""

from __future__ import annotations

from fastapi import Request

from imgflow.errors import BadRequest, TooLarge


def declared_length(request: Request) -> int | None:
    header = request.headers.get("content-length")
    if header is None:
        return None
    try:
        length = int(header)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if length < 0:
        raise BadRequest("Content-Length is negative")
    return length


def refuse_by_length(request: Request, cap: int, what: str = "the body") -> None:
    length = declared_length(request)
    if length is not None and length > cap:
        raise TooLarge(f"{what} has {length} bytes; at most {cap} are accepted")


async def read_capped(request: Request, cap: int) -> bytes:
    refuse_by_length(request, cap)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise TooLarge(f"the body has more than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
