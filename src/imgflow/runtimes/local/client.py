"""A small HTTP client for an imgflow server (local or on AWS): what ``imgflow upload`` and
``imgflow status`` use. ``auto`` posts small files to /v1/images and takes the presigned path
(POST /v1/uploads, then the form it describes) above the direct-upload cap."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import httpx

from imgflow.errors import BadRequest, ImgflowError, NotFound, Unauthorized

FINAL = ("done", "failed", "deleted")

#: the server's default ``direct_upload_max_bytes``: above it, ``auto`` takes the presigned path
DIRECT_MAX_BYTES = 4 * 1024 * 1024


class UserFields(TypedDict, total=False):
    """The user's own fields sent with an upload."""

    tags: list[str]
    alt: str
    metadata: dict[str, str]


class ServerError(ImgflowError):
    code = "server_error"


class Refused(BadRequest):
    """The server refused this file (too large, not an image, ...): the next file may still go."""


def _raise_for(resp: httpx.Response) -> None:
    if resp.is_success:
        return
    code = f"http_{resp.status_code}"
    try:
        body = resp.json()
        detail = str(body.get("detail") or body.get("title") or body)
        code = str(body.get("code") or code)
    except (ValueError, AttributeError):
        detail = resp.text[:300] or resp.reason_phrase
    message = f"{resp.request.method} {resp.request.url.path}: HTTP {resp.status_code}: {detail}"
    if resp.status_code == 401:
        raise Unauthorized(message)
    if resp.status_code == 404:
        raise NotFound(message)
    if resp.status_code in (405, 501):  # not an imgflow server, or not this path
        raise BadRequest(message, code=code)
    if 400 <= resp.status_code < 500:
        raise Refused(message, code=code)
    raise ServerError(message)


class Client:
    def __init__(self, server: str, *, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(
        self, path: Path, *, via: str = "auto", recipe: str | None = None, meta: UserFields | None = None
    ) -> dict[str, Any]:
        """Upload one file; the record as the server answered (``awaiting_upload`` or ``queued``).

        ``via``: ``direct``, ``presigned``, or ``auto`` (direct up to :data:`DIRECT_MAX_BYTES`, and
        presigned above it or when the server's own cap answers 413). ``meta``: the image's
        ``tags``, ``alt`` and ``metadata``, sent with it."""
        meta = meta or {}
        data = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if via == "direct" or (via == "auto" and len(data) <= DIRECT_MAX_BYTES):
            try:
                return self._direct(path.name, data, content_type, recipe, meta)
            except Refused as exc:
                if via == "direct" or exc.code != "too_large":
                    raise
        return self._presigned(path.name, data, content_type, recipe, meta)

    def _direct(
        self, name: str, data: bytes, content_type: str, recipe: str | None, meta: UserFields
    ) -> dict[str, Any]:
        params = {"filename": name, **({"recipe": recipe} if recipe else {})}
        if meta.get("tags"):
            params["tags"] = ",".join(meta["tags"])
        if meta.get("alt"):
            params["alt"] = meta["alt"]
        params.update({f"metadata.{k}": v for k, v in (meta.get("metadata") or {}).items()})
        resp = self.http.post("/v1/images", content=data, params=params, headers={"content-type": content_type})
        _raise_for(resp)
        body: dict[str, Any] = resp.json()
        return body

    def _presigned(
        self, name: str, data: bytes, content_type: str, recipe: str | None, meta: UserFields
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"filename": name, "content_type": content_type, "size": len(data)}
        if recipe:
            request["recipe"] = recipe
        request.update({k: v for k, v in meta.items() if v})
        resp = self.http.post("/v1/uploads", json=request)
        _raise_for(resp)
        created: dict[str, Any] = resp.json()
        upload: dict[str, Any] = created.get("upload") or created
        form = {str(k): str(v) for k, v in (upload.get("fields") or {}).items()}
        file_field = str(upload.get("file_field") or "file")
        # A separate client: the upload URL may be another host (S3) and must not get our token.
        with httpx.Client(timeout=self.http.timeout) as plain:
            landed = plain.post(str(upload["url"]), data=form, files={file_field: (name, data, content_type)})
        _raise_for(landed)
        record: dict[str, Any] = created.get("image") or created
        # the store's notification (S3 -> SQS, the local route) may not exist: say it landed
        done = self.http.post(f"/v1/uploads/{image_id_of(record)}/complete")
        if done.is_success:
            completed: dict[str, Any] = done.json()
            return completed
        return record

    def get(self, image_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/v1/images/{image_id}")
        _raise_for(resp)
        body: dict[str, Any] = resp.json()
        return body

    def patch(self, image_id: str, patch: dict[str, Any], *, version: int | None = None) -> dict[str, Any]:
        """A merge patch of the image's tags, alt or metadata; ``version``: only if it is still that one."""
        headers = {"content-type": "application/merge-patch+json"}
        if version is not None:
            headers["if-match"] = f'"{version}"'
        resp = self.http.request("PATCH", f"/v1/images/{image_id}", json=patch, headers=headers)
        _raise_for(resp)
        body: dict[str, Any] = resp.json()
        return body

    def list(
        self, *, tags: list[str] | None = None, status: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Your images, newest first, page after page (``tags``: those with every one of them)."""
        params: dict[str, Any] = {"limit": min(limit, 100)}
        if tags:
            params["tag"] = tags
        if status:
            params["status"] = status
        while True:
            resp = self.http.get("/v1/images", params=params)
            _raise_for(resp)
            page: dict[str, Any] = resp.json()
            yield from page.get("items") or []
            if not page.get("cursor"):
                return
            params["cursor"] = page["cursor"]

    def reprocess(self, image_id: str, *, recipe: str | None = None) -> dict[str, Any]:
        """Ask for a new generation of one of your images (its recipe, or ``recipe``)."""
        resp = self.http.post(f"/v1/images/{image_id}/reprocess", json={"recipe": recipe} if recipe else None)
        _raise_for(resp)
        body: dict[str, Any] = resp.json()
        return body

    def transform_url(self, image_id: str, params: dict[str, str | int | float]) -> str:
        """A signed on-demand URL for the image (``GET /v1/images/{id}/transform-url``)."""
        resp = self.http.get(f"/v1/images/{image_id}/transform-url", params=params)
        _raise_for(resp)
        return str(resp.json()["url"])

    def wait(self, image_id: str, *, timeout: float = 300.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll until the image is done or failed (or ``timeout`` passes: the last record seen)."""
        deadline = time.monotonic() + timeout
        record = self.get(image_id)
        while record.get("status") not in FINAL and time.monotonic() < deadline:
            time.sleep(interval)
            record = self.get(image_id)
        return record


def image_id_of(record: dict[str, Any]) -> str:
    value = record.get("image_id") or record.get("id")
    if not value:
        raise ServerError(f"the server's answer has no image_id: {sorted(record)}")
    return str(value)
