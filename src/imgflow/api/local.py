"""Routes only the one-machine backend has: what S3 does for presigned POSTs and GETs.

``POST /v1/local-uploads/{token}`` takes the form a presigned upload describes (fields, then
``file``) or the raw bytes, checks the HMAC-signed grant (key, content type, size, expiry),
refuses it (409 ``upload_in_progress``) while another request on the same grant is under way
and (409 ``upload_closed``) unless the image still awaits its upload, reads the body on the
event loop into a spool under the cap (no pool thread waits on a slow client), copies it into
the folder store, then tells the service the upload landed.
``GET /v1/files/{key}`` serves signed links (see :mod:`imgflow.api.local_files`); only renditions
of image types are shown inline, everything else (originals above all) is an attachment.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.adapters.local_signing import UploadGrant, UploadSigner
from imgflow.api.body import body_chunks, set_body_cap
from imgflow.api.local_files import serve_signed
from imgflow.api.problems import responses
from imgflow.errors import BadRequest, BadSignature, ConfigError, Conflict, UnsupportedFormat
from imgflow.service import ImageService
from imgflow.sniff import CONTENT_TYPES, SNIFF_BYTES

#: room for the form's other fields and multipart boundaries around the file
FORM_SLACK = 64 * 1024
_CHUNK = 256 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024

_FORM_BODY = {
    "requestBody": {
        "required": True,
        "description": "the presigned form: every field of `upload.fields`, then the file as `file`; "
        "or the raw bytes with the granted Content-Type",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string"},
                        "Content-Type": {"type": "string"},
                        "file": {"type": "string", "format": "binary"},
                    },
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _base_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


async def _capped_form(request: Request, cap: int) -> FormData:
    set_body_cap(request, cap)
    return await request.form(max_files=1, max_fields=32)


async def _spooled_body(request: Request, cap: int) -> UploadFile:
    """The raw body in a temporary file (memory up to 1 MiB), read without holding a pool thread."""
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    spool = UploadFile(cast(BinaryIO, file))
    try:
        async for chunk in body_chunks(request, cap):
            await spool.write(chunk)
        await spool.seek(0)
    except BaseException:
        await spool.close()
        raise
    return spool


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_CHUNK):
        yield chunk


def _check_form(form: FormData, grant: UploadGrant) -> UploadFile:
    if form.get("key") not in (None, grant.key):
        raise BadSignature("the form's key is not the one this upload was granted for")
    declared = form.get("Content-Type")
    if not isinstance(declared, str) or _base_type(declared) != grant.content_type:
        raise UnsupportedFormat(f"this upload was granted for Content-Type {grant.content_type}")
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise BadRequest("the form has no `file` part", code="missing_file")
    return file


def local_router(service: ImageService, store: FsObjectStore) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["local backend"])
    #: the keys whose upload is under way in this process: one request per grant at a time
    in_flight: set[str] = set()

    def signer() -> UploadSigner:
        if store.signer is None:
            raise ConfigError("the folder store has no signer")
        return store.signer

    @router.post(
        "/local-uploads/{token}",
        status_code=204,
        response_class=Response,
        summary="Upload to a presigned local URL (the folder store's stand-in for S3)",
        openapi_extra=_FORM_BODY,
        responses=responses(400, 403, 408, 409, 413, 415, 422, 503),
    )
    async def local_upload(token: str, request: Request) -> Response:
        grant = signer().verify_upload(token)
        if grant.key in in_flight:
            raise Conflict("another upload with this grant is under way", code="upload_in_progress")
        in_flight.add(grant.key)  # no await since the check: the claim is atomic on the event loop
        try:
            await _receive(request, grant)
            await run_in_threadpool(service.upload_completed, grant.key)
        finally:
            in_flight.discard(grant.key)
        return Response(status_code=204)

    async def _receive(request: Request, grant: UploadGrant) -> None:
        if not await run_in_threadpool(service.can_accept_upload, grant.key):
            # a grant stays valid until it expires: reused, it must not replace a processed original
            raise Conflict("this upload has already landed, or its image was deleted", code="upload_closed")
        if _base_type(request.headers.get("content-type")) == "multipart/form-data":
            form = await _capped_form(request, grant.max_size + FORM_SLACK)
            try:
                file = _check_form(form, grant)
                await _put(grant, file)
            finally:
                await form.close()
            return
        if _base_type(request.headers.get("content-type")) != grant.content_type:
            raise UnsupportedFormat(f"this upload was granted for Content-Type {grant.content_type}")
        spool = await _spooled_body(request, grant.max_size)
        try:
            await _put(grant, spool)
        finally:
            await spool.close()

    async def _put(grant: UploadGrant, file: UploadFile) -> None:
        """From the spool to the store: a local copy, the client is no longer waited for. The
        first bytes must be an accepted format (whatever the grant's Content-Type said): 415 and
        nothing stored otherwise, as on the direct path."""
        head = await file.read(SNIFF_BYTES)
        fmt = service.check_head(head)
        await file.seek(0)
        await run_in_threadpool(
            store.put_stream,
            grant.key,
            _file_chunks(file.file),
            content_type=CONTENT_TYPES[fmt],
            max_bytes=grant.max_size,
            min_bytes=1,
        )

    @router.get(
        "/files/{key:path}",
        response_class=FileResponse,
        summary="A signed download link of the folder store",
        responses={
            200: {"content": {"image/*": {}}},
            307: {"description": "a later generation replaced this rendition: its current link"},
            **responses(400, 403, 404, 422),
        },
    )
    def download(
        key: str,
        request: Request,
        exp: Annotated[str | None, Query(max_length=20)] = None,
        sig: Annotated[str | None, Query(max_length=100)] = None,
        filename: Annotated[str | None, Query(max_length=255)] = None,
    ) -> Response:
        if not exp or not sig:
            raise BadSignature("this link needs exp and sig")
        signer().verify_download(key, exp=exp, sig=sig, filename=filename)
        return serve_signed(request, service, store, key, filename=filename)

    router.add_api_route("/files/{key:path}", download, methods=["HEAD"], include_in_schema=False)
    return router
