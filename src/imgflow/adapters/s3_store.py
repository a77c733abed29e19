"""The object store on S3 (or anything that speaks its API: moto, MinIO), through a boto3 client.

The client is passed in (built by the wiring with the right endpoint and region);
nothing connects at import. botocore errors become named errors: NoSuchKey/404 ->
NotFound, 412 -> Conflict, AccessDenied/403 -> StorageForbidden (not retryable), anything
else -> StorageError (retryable). Their messages are for the log (they name buckets and roles).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from imgflow.adapters.keys import (
    check_presign_args,
    content_disposition,
    normalize_etag,
    validate_key,
    validate_prefix,
)
from imgflow.adapters.reuse_cache import ReuseCache
from imgflow.errors import Conflict, ImgflowError, NotFound, StorageError, StorageForbidden, TooLarge
from imgflow.ports import ObjectInfo, PresignedUpload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
#: error codes that mean "these credentials may not do this": a retry cannot help
FORBIDDEN_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)


def translate(exc: Exception, what: str) -> ImgflowError:
    if isinstance(exc, ClientError):
        error: Mapping[str, Any] = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
            return NotFound(f"no object at {what}")
        if code == "PreconditionFailed" or status == 412:
            return Conflict(f"object {what} changed (ETag no longer matches)")
        if code in FORBIDDEN_CODES or status == 403:
            return StorageForbidden(f"S3 {code or status} on {what}: {error.get('Message', '')}")
        return StorageError(f"S3 {code or status} on {what}: {error.get('Message', '')}")
    return StorageError(f"S3 unreachable for {what}: {exc}")


class S3ObjectStore:
    """One bucket. ``public_base_url`` (a CDN in front of the bucket): ``download_url``
    then returns ``{public_base_url}/{key}`` instead of a presigned GET."""

    #: per method, the IAM actions the role running it needs
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {
        "put": ("s3:PutObject",),
        "get": ("s3:GetObject",),
        "head": ("s3:GetObject",),
        "cache_control": ("s3:GetObject",),
        "delete": ("s3:DeleteObject",),
        "list": ("s3:ListBucket",),
        "download_url": ("s3:GetObject",),
        "presign_upload": ("s3:PutObject",),
    }
    #: every botocore operation this adapter calls -> the IAM actions it needs
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {
        "PutObject": ("s3:PutObject",),
        "GetObject": ("s3:GetObject",),
        "HeadObject": ("s3:GetObject",),
        "DeleteObject": ("s3:DeleteObject",),
        "ListObjectsV2": ("s3:ListBucket",),
    }

    def __init__(
        self, client: S3Client, bucket: str, *, public_base_url: str | None = None, links: ReuseCache | None = None
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        #: presigned GETs reused for a tenth of their life (see reuse_cache)
        self.links = links if links is not None else ReuseCache()

    def _what(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> ObjectInfo:
        validate_key(key)
        extra: dict[str, Any] = {"CacheControl": cache_control} if cache_control else {}
        try:
            resp = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(key)) from exc
        return ObjectInfo(key=key, size=len(data), etag=normalize_etag(resp["ETag"]), content_type=content_type)

    def get(self, key: str, *, max_bytes: int, etag: str | None = None) -> bytes:
        validate_key(key)
        extra: dict[str, Any] = {"IfMatch": f'"{normalize_etag(etag)}"'} if etag is not None else {}
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(key)) from exc
        body = resp["Body"]
        try:
            if resp["ContentLength"] > max_bytes:
                raise TooLarge(f"{self._what(key)} is {resp['ContentLength']} bytes, more than {max_bytes}")
            data = body.read(max_bytes + 1)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(key)) from exc
        finally:
            body.close()
        if len(data) > max_bytes:
            raise TooLarge(f"{self._what(key)} is more than {max_bytes} bytes")
        return data

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(key)) from exc
        return ObjectInfo(
            key=key,
            size=resp["ContentLength"],
            etag=normalize_etag(resp["ETag"]),
            content_type=resp.get("ContentType"),
            last_modified=resp["LastModified"].timestamp(),
        )

    def cache_control(self, key: str) -> str | None:
        validate_key(key)
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key).get("CacheControl")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(key)) from exc

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            error = translate(exc, self._what(key))
            if not isinstance(error, NotFound):
                raise error from exc

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        key=obj["Key"],
                        size=obj["Size"],
                        etag=normalize_etag(obj["ETag"]),
                        last_modified=obj["LastModified"].timestamp(),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._what(prefix)) from exc

    def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        validate_key(key)
        if self.public_base_url is not None:
            return f"{self.public_base_url}/{quote(key, safe='/~')}"
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return self.links.get(
            (key, filename),
            expires_in,
            lambda: self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in),
        )

    def presign_upload(self, key: str, *, content_type: str, max_size: int, expires_in: int) -> PresignedUpload:
        """A presigned POST; botocore adds the ``bucket`` and exact ``key`` conditions itself."""
        check_presign_args(key, max_size, expires_in)
        expires_at = time.time() + expires_in
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=dict(post["fields"]), expires_at=expires_at)
