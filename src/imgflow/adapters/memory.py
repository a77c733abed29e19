"""In-memory fakes of the ports: same semantics as the real adapters (same contract suite).

Thread-safe. For tests and for trying the service without disk or AWS. Each consults its
``faults`` plan (:mod:`imgflow.adapters.faults`) on every call: the one way tests make a call
fail or lose a race.
"""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from imgflow.adapters import catalog_rules as rules
from imgflow.adapters.faults import Faults
from imgflow.adapters.keys import check_presign_args, md5_etag, normalize_etag, validate_key, validate_prefix
from imgflow.errors import BadRequest, BadSignature, Conflict, NotFound, SignatureExpired, TooLarge
from imgflow.ports import Expect, ObjectInfo, Page, PresignedUpload
from imgflow.records import ImageRecord, Status


@dataclass(frozen=True)
class _Object:
    data: bytes
    info: ObjectInfo
    cache_control: str | None


@dataclass(frozen=True)
class _Grant:
    key: str
    content_type: str
    max_size: int
    expires_at: float


class MemoryObjectStore:
    """A dict of objects. ``presign_upload`` returns a form whose ``token`` field
    :meth:`accept_upload` checks like S3 checks a presigned POST policy."""

    def __init__(
        self, name: str = "memory", *, clock: Callable[[], float] = time.time, faults: Faults | None = None
    ) -> None:
        self.name = name
        self.clock = clock
        self.faults = faults or Faults()
        self._objects: dict[str, _Object] = {}
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> ObjectInfo:
        with self.faults.around("put", key, data=data, content_type=content_type):
            validate_key(key)
            info = ObjectInfo(
                key=key, size=len(data), etag=md5_etag(data), content_type=content_type, last_modified=self.clock()
            )
            with self._lock:
                self._objects[key] = _Object(bytes(data), info, cache_control)
            return info

    def _lookup(self, key: str) -> _Object:
        validate_key(key)
        with self._lock:
            obj = self._objects.get(key)
        if obj is None:
            raise NotFound(f"no object at {key!r}")
        return obj

    def get(self, key: str, *, max_bytes: int, etag: str | None = None) -> bytes:
        with self.faults.around("get", key, max_bytes=max_bytes, etag=etag):
            obj = self._lookup(key)
            if etag is not None and normalize_etag(etag) != obj.info.etag:
                raise Conflict(f"object {key!r} changed (etag {obj.info.etag} != {normalize_etag(etag)})")
            if obj.info.size > max_bytes:
                raise TooLarge(f"object {key!r} is {obj.info.size} bytes, more than {max_bytes}")
            return obj.data

    def head(self, key: str) -> ObjectInfo:
        with self.faults.around("head", key):
            return self._lookup(key).info

    def cache_control(self, key: str) -> str | None:
        return self._lookup(key).cache_control

    def delete(self, key: str) -> None:
        with self.faults.around("delete", key):
            validate_key(key)
            with self._lock:
                self._objects.pop(key, None)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with self.faults.around("list", prefix):
            validate_prefix(prefix)
            with self._lock:
                infos = [o.info for k, o in self._objects.items() if k.startswith(prefix)]
        # S3 lists in UTF-8 byte order
        infos.sort(key=lambda i: i.key.encode())
        return iter(infos)

    def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        with self.faults.around("download_url", key, expires_in=expires_in):
            validate_key(key)
        query = {"exp": str(int(self.clock() + expires_in))}
        if filename is not None:
            query["filename"] = filename
        return f"memory://{self.name}/{quote(key)}?{urlencode(query)}"

    def presign_upload(self, key: str, *, content_type: str, max_size: int, expires_in: int) -> PresignedUpload:
        with self.faults.around("presign_upload", key, content_type=content_type, max_size=max_size):
            validate_key(key)
        check_presign_args(key, max_size, expires_in)
        token = secrets.token_urlsafe(16)
        expires_at = self.clock() + expires_in
        with self._lock:
            self._grants[token] = _Grant(key, content_type, max_size, expires_at)
        fields = {"key": key, "Content-Type": content_type, "token": token}
        return PresignedUpload(url=f"memory://{self.name}/uploads", fields=fields, expires_at=expires_at)

    def accept_upload(self, fields: Mapping[str, str], data: bytes) -> ObjectInfo:
        """What the store does when a client posts a presigned form: check the pins, then put."""
        with self._lock:
            grant = self._grants.get(fields.get("token", ""))
        if grant is None or fields.get("key") != grant.key or fields.get("Content-Type") != grant.content_type:
            raise BadSignature("upload form does not match its grant")
        if self.clock() > grant.expires_at:
            raise SignatureExpired("upload grant expired")
        if len(data) > grant.max_size:
            raise TooLarge(f"upload of {len(data)} bytes is larger than {grant.max_size}")
        if not data:
            raise BadRequest("an upload must not be empty")
        return self.put(grant.key, data, content_type=grant.content_type)


class MemoryCatalog:
    """A dict of records behind a lock. ``on_queued`` is called (outside the lock)
    with every record written in status ``queued``, like the SQLite catalog's job queue."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[ImageRecord], None] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.clock = clock
        self.faults = faults or Faults()
        self.on_queued = on_queued
        self._records: dict[str, ImageRecord] = {}
        self._lock = threading.Lock()

    def _written(self, record: ImageRecord) -> ImageRecord:
        if record.status == "queued" and self.on_queued is not None:
            self.on_queued(record)
        return record

    def create(self, record: ImageRecord) -> ImageRecord:
        with self.faults.around("create", record.image_id, record=record), self._lock:
            if record.image_id in self._records:
                raise Conflict(f"image {record.image_id} exists")
            self._records[record.image_id] = record
        return self._written(record)

    def get(self, image_id: str) -> ImageRecord:
        with self.faults.around("get", image_id), self._lock:
            record = self._records.get(image_id)
        if record is None:
            raise NotFound(f"no image {image_id}")
        return record

    def transition(self, image_id: str, expect: Expect, changes: Mapping[str, Any]) -> ImageRecord:
        with self.faults.around("transition", image_id, expect=expect, changes=changes), self._lock:
            record = self._records.get(image_id)
            if record is None:
                raise NotFound(f"no image {image_id}")
            if not rules.matches(record, expect):
                raise Conflict(f"image {image_id} is {record.status} (version {record.version}): condition failed")
            new = rules.apply_changes(record, changes, self.clock())
            self._records[image_id] = new
        return self._written(new)

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Collection[str] = ()) -> Page:  # fmt: skip
        rules.check_limit(limit)
        after = rules.read_position(owner, cursor) if cursor else None
        with self.faults.around("list", owner, status=status), self._lock:
            mine = [
                r
                for r in self._records.values()
                if r.owner == owner and (status is None or r.status == status) and rules.has_tags(r, tags)
            ]
        mine.sort(key=rules.newest_first, reverse=True)
        if after is not None:
            mine = [r for r in mine if rules.newest_first(r) < after]
        items = mine[:limit]
        more = len(mine) > limit
        return Page(items=items, cursor=rules.position_cursor(owner, items[-1]) if more else None)

    def delete(self, image_id: str) -> None:
        with self.faults.around("delete", image_id), self._lock:
            self._records.pop(image_id, None)

    def stale(self, now: float, *, older_than: float, limit: int = 100) -> builtins.list[ImageRecord]:
        with self.faults.around("stale", now=now, older_than=older_than), self._lock:
            found = [r for r in self._records.values() if rules.is_stale(r, now, older_than)]
        found.sort(key=lambda r: r.updated_at)
        return found[:limit]

    def pending_events(self, limit: int = 100) -> builtins.list[ImageRecord]:
        with self._lock:
            found = [r for r in self._records.values() if rules.event_pending(r)]
        found.sort(key=lambda r: r.updated_at)
        return found[:limit]

    def every(self, status: Status | None = None) -> Iterator[ImageRecord]:
        """Every record of every owner (an operator's backfill), in no particular order."""
        with self._lock:
            found = [r for r in self._records.values() if status is None or r.status == status]
        yield from found

    def purge_expired(self, now: float) -> int:
        """Drop records whose ``expires_at`` passed (DynamoDB's TTL does this by itself)."""
        with self._lock:
            gone = [k for k, r in self._records.items() if r.expires_at is not None and r.expires_at < now]
            for k in gone:
                del self._records[k]
        return len(gone)
