"""The image routes: uploads, the direct path, reads, delete, reprocess."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from imgflow import usermeta
from imgflow.api.admission import Admit
from imgflow.api.auth import Owner
from imgflow.api.body import read_capped
from imgflow.api.image_meta import etag, image_meta_router
from imgflow.api.problems import responses
from imgflow.api.schemas import (
    CreatedUpload,
    ImageList,
    ImageView,
    ListableStatus,
    ReprocessRequest,
    UploadRequest,
    UploadView,
)
from imgflow.ondemand import Links
from imgflow.records import ImageRecord
from imgflow.service import ImageService
from imgflow.settings import Settings

T = TypeVar("T")

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the image bytes; the magic bytes decide the type, not Content-Type",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def images_router(
    service: ImageService,
    settings: Settings,
    admit: Admit,
    *,
    url_for: Callable[[str], str] | None = None,
    links: Links | None = None,
    inline_reads: bool = False,
    read_threads: int | None = None,
) -> APIRouter:
    """``admit(owner)`` runs before a route adds work (upload, direct upload, reprocess): 429 when busy.
    ``url_for``: a rendition key's URL in the record view (default: the service's, made at read time).
    ``links``: signs on-demand ``/t/`` URLs for the record view's ``srcset``.
    ``inline_reads``: the catalog answers a read from this process (SQLite, memoised records), so
    the status read runs on the event loop; otherwise (a network catalog) in the thread pool, where
    a slow read holds no other request up. ``read_threads``: at most this many reads in threads at
    once (the cluster: its database pool's size); more only wait for a connection, and many
    threads at the database together stretched the read tail from ~10 ms to over a second."""
    router = APIRouter(prefix="/v1", tags=["images"])
    link = url_for or service.rendition_url
    srcset = links.srcset if links is not None else None

    def view(record: ImageRecord) -> ImageView:
        return ImageView.of(record, link, srcset)

    limiter = anyio.CapacityLimiter(read_threads) if read_threads else None

    async def read(verb: Callable[..., T], *args: Any) -> T:
        if inline_reads:
            return verb(*args)
        return await anyio.to_thread.run_sync(partial(verb, *args), limiter=limiter)  # None: anyio's default

    @router.post(
        "/uploads",
        status_code=201,
        response_model=CreatedUpload,
        summary="Start a presigned upload",
        responses=responses(400, 401, 413, 415, 422, 429, 503),
    )
    def create_upload(body: UploadRequest, owner: Owner, response: Response) -> CreatedUpload:
        admit(owner)
        meta = usermeta.clean(body.tags, body.alt, body.metadata)
        record, grant = service.create_upload(
            owner,
            filename=body.filename,
            content_type=body.content_type,
            size=body.size,
            recipe=body.recipe,
            meta=meta,
        )
        response.headers["Location"] = f"/v1/images/{record.image_id}"
        return CreatedUpload(image=view(record), upload=UploadView.of(grant))

    @router.post(
        "/uploads/{image_id}/complete",
        status_code=202,
        response_model=ImageView,
        summary="Say that a presigned upload landed (any S3-compatible store)",
        responses=responses(401, 404, 409, 422, 503),
    )
    def complete_upload(image_id: str, owner: Owner) -> ImageView:
        return view(service.complete_upload(owner, image_id))

    @router.post(
        "/images",
        status_code=202,
        response_model=ImageView,
        summary="Upload a small image as the request body",
        openapi_extra=_IMAGE_BODY,
        responses=responses(400, 401, 408, 413, 415, 422, 429, 503),
    )
    async def ingest(
        request: Request,
        owner: Owner,
        response: Response,
        filename: Annotated[str | None, Query(max_length=1024)] = None,
        recipe: Annotated[str | None, Query(max_length=63)] = None,
        tags: Annotated[str | None, Query(description="comma-separated tags")] = None,
        alt: Annotated[str | None, Query(description="alt text, up to 1,000 characters")] = None,
    ) -> ImageView:
        # `metadata.KEY=VALUE` parameters are the image's metadata fields
        meta = usermeta.UserMeta(
            tags=usermeta.split_tags(tags) if tags else (),
            alt=usermeta.clean_alt(alt),
            metadata=usermeta.query_metadata(request.query_params.multi_items()),
        )
        await run_in_threadpool(admit, owner)  # before a byte of the body is read
        cap = min(service.config.direct_upload_max_bytes, service.config.limits.max_bytes)
        data = await read_capped(request, cap)
        record = await run_in_threadpool(
            service.ingest,
            owner,
            data,
            filename=filename,
            content_type=request.headers.get("content-type"),
            recipe=recipe,
            meta=meta,
        )
        response.headers["Location"] = f"/v1/images/{record.image_id}"
        return view(record)

    @router.get("/images/{image_id}", response_model=ImageView, summary="One image", responses=responses(401, 404, 422))
    async def get_image(image_id: str, owner: Owner) -> Response:
        # one hop to the thread pool at most (none for an inline read), and the view written as
        # JSON straight away: FastAPI would dump, revalidate and encode a returned model again
        record = await read(service.get, owner, image_id)
        headers = {"ETag": etag(record.version)}
        return Response(view(record).model_dump_json(), media_type="application/json", headers=headers)

    @router.get(
        "/images", response_model=ImageList, summary="Your images, newest first", responses=responses(400, 401, 422)
    )
    async def list_images(
        owner: Owner,
        status: ListableStatus | None = None,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        tag: Annotated[list[str] | None, Query(description="only images with this tag; repeat: all of them")] = None,
    ) -> Response:
        page = await read(partial(service.list, status=status, limit=limit, cursor=cursor, tags=tag or ()), owner)
        listed = ImageList(items=[view(r) for r in page.items], cursor=page.cursor)
        return Response(listed.model_dump_json(), media_type="application/json")

    @router.delete(
        "/images/{image_id}",
        status_code=204,
        response_class=Response,
        summary="Delete an image, its original and its renditions",
        responses=responses(401, 404, 409, 422, 503),
    )
    def delete_image(image_id: str, owner: Owner) -> Response:
        service.delete(owner, image_id)
        return Response(status_code=204)

    @router.post(
        "/images/{image_id}/reprocess",
        status_code=202,
        response_model=ImageView,
        summary="Make the renditions again (a new generation)",
        responses=responses(400, 401, 404, 409, 413, 422, 429, 503),
    )
    def reprocess(image_id: str, owner: Owner, body: ReprocessRequest | None = None) -> ImageView:
        admit(owner)
        return view(service.reprocess(owner, image_id, recipe=body.recipe if body else None))

    router.include_router(image_meta_router(service, view))
    return router
