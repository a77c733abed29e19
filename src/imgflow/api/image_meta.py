"""``PATCH /v1/images/{id}``: the user's tags, alt text and metadata, by an RFC 7396 merge patch,
conditional on ``If-Match`` (the record's ``version`` is its ETag)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from imgflow.api.auth import Owner
from imgflow.api.body import read_capped
from imgflow.api.problems import responses
from imgflow.api.schemas import ImageView
from imgflow.errors import BadRequest, ImgflowError, InvalidField
from imgflow.service import ImageService

MERGE_PATCH = "application/merge-patch+json"
_PATCH_TYPES = (MERGE_PATCH, "application/json")
_PATCH_CAP = 256 * 1024

_PATCH_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "an RFC 7396 merge patch: `tags` (a list; replaces them, null clears), `alt` (a string; null"
            " clears), `metadata` (an object; a string value sets a key, null removes it)"
        ),
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                        "alt": {"type": ["string", "null"]},
                        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}},
                    },
                    "additionalProperties": False,
                },
                "example": {"tags": ["beach", "summer"], "alt": "Two dogs on a beach", "metadata": {"sku": "A-1"}},
            }
            for media in _PATCH_TYPES
        },
    }
}


class UnsupportedMediaType(ImgflowError):
    code = "unsupported_media_type"
    http_status = 415


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``, or ``7``): the version the client saw; ``*`` or none: any."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 18:
        raise BadRequest(
            f'If-Match must be the image\'s ETag (its version, e.g. "3"), not {header!r}', code="invalid_if_match"
        )
    return int(value)


def _patch_body(raw: bytes, content_type: str | None) -> Any:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in _PATCH_TYPES:
        raise UnsupportedMediaType(f"send the patch as {MERGE_PATCH} (or application/json), not {media or 'no type'}")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidField("body", "a merge patch is a JSON object")
    return body


def image_meta_router(service: ImageService, view: Callable[[Any], ImageView]) -> APIRouter:
    router = APIRouter(tags=["images"])  # included by the images router, under its /v1

    @router.patch(
        "/images/{image_id}",
        response_model=ImageView,
        summary="Change an image's tags, alt text or metadata (merge patch)",
        openapi_extra=_PATCH_BODY,
        responses=responses(400, 401, 404, 412, 415, 422, 503),
    )
    async def patch_image(image_id: str, owner: Owner, request: Request, response: Response) -> ImageView:
        if_match = parse_if_match(request.headers.get("if-match"))
        body = _patch_body(await read_capped(request, _PATCH_CAP), request.headers.get("content-type"))
        record = await run_in_threadpool(service.patch, owner, image_id, body, if_match=if_match)
        response.headers["ETag"] = etag(record.version)
        return view(record)

    return router
