"""The sparse index of records that can be stale, for the DynamoDB catalog's ``stale()``.

A record carries ``stale_key`` (``<status>#<shard>``) only while it is ``awaiting_upload``,
``queued`` or ``processing``; the catalog sets or removes it in the same write that sets the
status. The index ``stale-updated_at`` (key ``stale_key``, sort key ``updated_at``) holds
nothing else, so the reconcile sweep reads it with one Query per state and shard instead of
scanning a table that grows with every image ever uploaded. The shard (a hash of the id)
spreads a burst of uploads over several index partitions; ``updated_at`` only grows, so
without shards every new record would land on one partition's end.
"""

from __future__ import annotations

import heapq
import itertools
import zlib
from collections.abc import Iterable
from typing import Any

from imgflow.records import ImageRecord, Status

STALE_INDEX = "stale-updated_at"
STALE_KEY = "stale_key"
STALE_STATES: tuple[Status, ...] = ("awaiting_upload", "queued", "processing")
STALE_SHARDS = 4


def stale_key(image_id: str, status: str) -> str | None:
    """The record's key in the sparse index, or None: it is not there."""
    if status not in STALE_STATES:
        return None
    return f"{status}#{zlib.crc32(image_id.encode()) % STALE_SHARDS}"


def stale_queries(table: str, now: float, *, older_than: float, limit: int) -> Iterable[dict[str, Any]]:
    """Query arguments (attribute values still plain), one per state and shard, oldest first each:
    an expired lease (``processing``: every claimed record, as many as run at once, filtered on
    ``lease_expires_at < now``), or ``awaiting_upload``/``queued`` untouched since ``older_than``."""
    for status, shard in itertools.product(STALE_STATES, range(STALE_SHARDS)):
        kwargs: dict[str, Any] = {"TableName": table, "IndexName": STALE_INDEX, "ScanIndexForward": True}
        if status == "processing":
            kwargs["KeyConditionExpression"] = "#k = :k"
            kwargs["FilterExpression"] = "#l < :now"
            kwargs["ExpressionAttributeNames"] = {"#k": STALE_KEY, "#l": "lease_expires_at"}
            kwargs["ExpressionAttributeValues"] = {":k": f"{status}#{shard}", ":now": now}
        else:
            kwargs["KeyConditionExpression"] = "#k = :k AND #u < :old"
            kwargs["ExpressionAttributeNames"] = {"#k": STALE_KEY, "#u": "updated_at"}
            kwargs["ExpressionAttributeValues"] = {":k": f"{status}#{shard}", ":old": older_than}
            kwargs["Limit"] = limit
        yield kwargs


def oldest_first(runs: Iterable[list[ImageRecord]], limit: int) -> list[ImageRecord]:
    """The runs (each sorted by ``updated_at``) merged, the least recently updated first."""
    merged = heapq.merge(*runs, key=lambda r: (r.updated_at, r.image_id))
    return list(itertools.islice(merged, limit))
