"""Rendition links the one-machine backend serves, and how a link finds its file.

A link names an image, a generation and a file (``{name}.{ext}``); what it resolves to is
decided by the image's record, never by what happens to be on disk:

- the record's current renditions hold the file in that generation: the file;
- they hold it in a later generation (a reprocess, a new upload): 307 to the current one;
- otherwise (deleted image, a generation not made yet, a name the recipe no longer makes,
  a failed reprocess that left no renditions): 404.

Routes (owner-scoped like every ``/v1/images`` route; with ``auth: none`` no credentials):
``GET /v1/images/{image_id}/renditions/{file}`` is the current generation's file (``no-cache``
with an ETag: a reprocess changes it); ``GET /v1/images/{image_id}/renditions/{generation}/{file}``
is one generation's (immutable). The signed ``/v1/files/{key}`` links of
:mod:`imgflow.api.local` resolve the same way once their signature is checked.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.api.auth import LOCAL_OWNER, Owner
from imgflow.api.problems import responses
from imgflow.errors import NotFound
from imgflow.records import ImageRecord
from imgflow.service import ImageService

_INLINE = frozenset({"image/jpeg", "image/png", "image/webp", "image/avif", "image/gif"})
_SANDBOX = "default-src 'none'; sandbox"
#: a link whose target can change (by name, or a redirect to the current generation)
_REVALIDATE = "no-cache"
_PREFIX = "renditions/"

FileName = Annotated[str, Path(max_length=128, description="`{name}.{ext}`, e.g. `thumb.jpg`")]


def split_rendition_key(key: str) -> tuple[str, int, str] | None:
    """``renditions/{image_id}/{generation}/{file}`` as its parts, or None for any other key."""
    if not key.startswith(_PREFIX):
        return None
    parts = key[len(_PREFIX) :].split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0] or not parts[2]:
        return None
    return parts[0], int(parts[1]), parts[2]


def rendition_link(base_url: str, key: str) -> str:
    """The unsigned, generation-pinned link of a rendition key (``auth: none``)."""
    parts = split_rendition_key(key)
    if parts is None:
        raise ValueError(f"not a rendition key: {key!r}")
    image_id, generation, file = parts
    return f"{base_url.rstrip('/')}/v1/images/{quote(image_id, safe='')}/renditions/{generation}/{quote(file, safe='')}"


def locate(record: ImageRecord, generation: int | None, file: str) -> tuple[str, bool]:
    """The key a link to ``file`` of ``generation`` (None: the current one) resolves to, and
    whether the link moved (it names an earlier generation). Raises NotFound."""
    for rendition in record.renditions:
        parts = split_rendition_key(rendition.key)
        if parts is None:
            continue
        # identical renditions share one object (named after the first): match the entry's own name too
        own = f"{rendition.name}.{parts[2].rsplit('.', 1)[-1]}"
        if file not in (parts[2], own):
            continue
        current = parts[1]
        if generation is None or generation == current:
            return rendition.key, False
        if generation < current:
            return rendition.key, True
        break
    raise NotFound(f"image {record.image_id!r} has no rendition {file!r} in that generation")


def same_server(url: str) -> str:
    """A URL of this server as an absolute path (a redirect then works whatever host name the
    client used: localhost, 127.0.0.1, a LAN name)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def moved(location: str) -> Response:
    return RedirectResponse(same_server(location), status_code=307, headers={"Cache-Control": _REVALIDATE})


def serve(
    request: Request,
    store: FsObjectStore,
    key: str,
    *,
    filename: str | None = None,
    cache_control: str | None = None,
) -> Response:
    """The object at ``key``: image renditions inline, anything else as an attachment; always
    nosniff and a sandboxing CSP; a matching ``If-None-Match`` is a 304."""
    path = store.local_path(key)
    info = store.head(key)
    inline = key.startswith(_PREFIX) and (info.content_type or "").split(";")[0].strip().lower() in _INLINE
    etag = f'"{info.etag}"'
    cached = (cache_control or store.cache_control(key)) if inline else None
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _SANDBOX,
        "Cache-Control": cached or "private, no-store",
        "ETag": etag,
    }
    wanted = request.headers.get("if-none-match")
    if wanted and etag in {tag.strip().removeprefix("W/") for tag in wanted.split(",")}:
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type=info.content_type if inline else "application/octet-stream",
        headers=headers,
        filename=filename or key.rsplit("/", 1)[-1],
        content_disposition_type="inline" if inline else "attachment",
    )


def serve_signed(
    request: Request, service: ImageService, store: FsObjectStore, key: str, *, filename: str | None
) -> Response:
    """A signed ``/v1/files`` link whose signature was checked: originals as they are, renditions
    through the record (an earlier generation redirects to a freshly signed current link)."""
    parts = split_rendition_key(key)
    if parts is None:
        return serve(request, store, key, filename=filename)
    image_id, generation, file = parts
    # the local backend has one owner; the signature already scoped the link to this image
    record = service.get(LOCAL_OWNER, image_id)
    current, has_moved = locate(record, generation, file)
    if has_moved:
        return moved(service.rendition_url(current))
    return serve(request, store, current, filename=filename)


def links_router(service: ImageService, store: FsObjectStore) -> APIRouter:
    router = APIRouter(prefix="/v1/images", tags=["local backend"])
    errors = responses(401, 404, 422)
    image: dict[int | str, dict[str, Any]] = {
        200: {"content": {"image/*": {}}},
        304: {"description": "Not Modified (If-None-Match)"},
    }

    async def record_of(owner: str, image_id: str) -> ImageRecord:
        return await run_in_threadpool(service.get, owner, image_id)

    @router.get(
        "/{image_id}/renditions/{file}",
        response_class=FileResponse,
        summary="A rendition of the current generation, by name (a stable link)",
        responses={**image, **errors},
    )
    async def current_rendition(image_id: str, file: FileName, owner: Owner, request: Request) -> Response:
        key, _ = locate(await record_of(owner, image_id), None, file)
        return await run_in_threadpool(serve, request, store, key, cache_control=_REVALIDATE)

    @router.get(
        "/{image_id}/renditions/{generation}/{file}",
        response_class=FileResponse,
        summary="A rendition of one generation; an earlier generation redirects to the current one",
        responses={**image, 307: {"description": "a later generation replaced this one"}, **errors},
    )
    async def pinned_rendition(
        image_id: str, generation: Annotated[int, Path(ge=0)], file: FileName, owner: Owner, request: Request
    ) -> Response:
        key, has_moved = locate(await record_of(owner, image_id), generation, file)
        if has_moved:
            return moved(rendition_link(str(request.base_url), key))
        return await run_in_threadpool(serve, request, store, key)

    for route, endpoint in (
        ("/{image_id}/renditions/{file}", current_rendition),
        ("/{image_id}/renditions/{generation}/{file}", pinned_rendition),
    ):
        router.add_api_route(route, endpoint, methods=["HEAD"], include_in_schema=False)
    return router
