"""The catalog in DynamoDB, through a low-level boto3 client passed in.

Item = ``record.to_item()`` (numbers as Decimal), key ``image_id``. Every write is
conditional: ``create`` on ``attribute_not_exists(image_id)``, ``transition`` on the
:class:`~imgflow.ports.Expect` rules of :mod:`catalog_rules` (plus a version bump).
Listing queries the ``owner-created_at`` GSI newest first. Nothing scans: ``stale()``
(the scheduled reconcile sweep) queries ``stale-updated_at``, a sparse GSI holding only the
records that can be stale (:mod:`dynamo_stale`): ``create`` and every ``transition`` that
changes the status set or remove the record's ``stale_key`` in the same write.
Tags: each item carries ``tag_keys`` (its tags case-folded); ``list(tags=...)`` queries the
owner's partition of ``owner-created_at`` with ``contains(tag_keys, :t)`` filters: the owner's
items are read, never the table (see docs/api.md for the cost).
"""

from __future__ import annotations

import builtins
import itertools
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from imgflow.adapters import catalog_rules as rules
from imgflow.adapters.dynamo_expr import Expression, condition_for
from imgflow.adapters.dynamo_schema import EVENTS_INDEX, GSI_NAME, deserialize, serialize
from imgflow.adapters.dynamo_stale import STALE_INDEX, STALE_KEY, oldest_first, stale_key, stale_queries
from imgflow.adapters.s3_store import FORBIDDEN_CODES
from imgflow.errors import Conflict, NotFound, StorageError, StorageForbidden
from imgflow.ports import Expect, Page
from imgflow.records import ImageRecord, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: the item's tags, case-folded: what ``list(tags=...)`` filters on
TAG_KEYS = "tag_keys"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoCatalog:
    #: per method, the IAM actions the role running it needs (``list`` on the table's index ARN)
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {
        "create": ("dynamodb:PutItem",),
        "get": ("dynamodb:GetItem",),
        "transition": ("dynamodb:UpdateItem", "dynamodb:GetItem"),
        "list": ("dynamodb:Query",),
        "delete": ("dynamodb:DeleteItem",),
        "stale": ("dynamodb:Query",),
        "pending_events": ("dynamodb:Query",),
        # an operator's backfill (the CLI, with the operator's credentials), never a function
        "every": ("dynamodb:Scan",),
    }
    #: the one index each querying method reads (its Query is granted on that index only)
    IAM_INDEXES: Mapping[str, str] = {"list": GSI_NAME, "stale": STALE_INDEX, "pending_events": EVENTS_INDEX}
    #: every botocore operation this adapter calls -> the IAM actions it needs
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {
        "PutItem": ("dynamodb:PutItem",),
        "GetItem": ("dynamodb:GetItem",),
        "UpdateItem": ("dynamodb:UpdateItem",),
        "Query": ("dynamodb:Query",),
        "DeleteItem": ("dynamodb:DeleteItem",),
        # only the operator's backfill (``every``), with the operator's credentials; no function scans
        "Scan": ("dynamodb:Scan",),
    }

    def __init__(self, client: DynamoDBClient, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table_name
        self.clock = clock

    def _fail(self, exc: Exception, what: str) -> StorageError:
        """For the log only (the message names the table and role); AccessDenied is not retryable."""
        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        kind = StorageForbidden if code in FORBIDDEN_CODES else StorageError
        return kind(f"DynamoDB {code} on {what}: {exc}")

    @staticmethod
    def _item(record: ImageRecord) -> dict[str, Any]:
        item = record.to_item()
        key = stale_key(record.image_id, record.status)
        if key is not None:
            item[STALE_KEY] = key
        if record.tags:
            item[TAG_KEYS] = rules.tag_keys(record.tags)
        return item

    def create(self, record: ImageRecord) -> ImageRecord:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(self._item(record)),
                ConditionExpression="attribute_not_exists(image_id)",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise Conflict(f"image {record.image_id} exists") from exc
            raise self._fail(exc, f"create {record.image_id}") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, f"create {record.image_id}") from exc
        return record

    def _get(self, image_id: str) -> dict[str, Any] | None:
        try:
            resp = self.client.get_item(TableName=self.table, Key={"image_id": {"S": image_id}}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, f"get {image_id}") from exc
        return resp.get("Item")

    def get(self, image_id: str) -> ImageRecord:
        item = self._get(image_id)
        if item is None:
            raise NotFound(f"no image {image_id}")
        return ImageRecord.from_item(deserialize(item))

    def transition(self, image_id: str, expect: Expect, changes: Mapping[str, Any]) -> ImageRecord:
        expr = Expression()
        sets: list[str] = []
        removes: list[str] = []
        for name, value in rules.normalize_changes(changes).items():
            if value is None:
                removes.append(expr.name(name))
            else:
                sets.append(f"{expr.name(name)} = {expr.value(value)}")
        if changes.get("status") is not None:  # in the index while it can be stale, out of it otherwise
            key = stale_key(image_id, str(changes["status"]))
            if key is None:
                removes.append(expr.name(STALE_KEY))
            else:
                sets.append(f"{expr.name(STALE_KEY)} = {expr.value(key)}")
        if "tags" in changes:  # the filterable form follows the tags in the same write
            folded = rules.tag_keys(changes["tags"] or ())
            if folded:
                sets.append(f"{expr.name(TAG_KEYS)} = {expr.value(folded)}")
            else:
                removes.append(expr.name(TAG_KEYS))
        if changes.get("updated_at") is None:
            sets.append(f"{expr.name('updated_at')} = {expr.value(self.clock())}")
        sets.append(f"{expr.name('version')} = {expr.name('version')} + {expr.value(1)}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = condition_for(expect, expr)
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key={"image_id": {"S": image_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=serialize(expr.values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise self._fail(exc, f"transition {image_id}") from exc
            response: Mapping[str, Any] = exc.response
            old = response.get("Item") or self._get(image_id)
            if not old:
                raise NotFound(f"no image {image_id}") from exc
            status = deserialize(old).get("status")
            raise Conflict(f"image {image_id} is {status}: condition failed") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, f"transition {image_id}") from exc
        return ImageRecord.from_item(deserialize(resp["Attributes"]))

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Collection[str] = ()) -> Page:  # fmt: skip
        rules.check_limit(limit)
        filters: builtins.list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "ScanIndexForward": False,
            # Limit counts items read before the filter: read a little more when filtering
            "Limit": limit + 1 if status is None and not tags else min(1000, 4 * (limit + 1)),
        }
        if status is not None:
            filters.append("#s = :s")
            kwargs["ExpressionAttributeNames"]["#s"] = "status"
            kwargs["ExpressionAttributeValues"][":s"] = {"S": status}
        for i, tag in enumerate(rules.tag_keys(tags)):
            filters.append(f"contains(#tk, :t{i})")
            kwargs["ExpressionAttributeNames"]["#tk"] = TAG_KEYS
            kwargs["ExpressionAttributeValues"][f":t{i}"] = {"S": tag}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if cursor:
            kwargs["ExclusiveStartKey"] = self._read_cursor(owner, cursor)
        found: builtins.list[dict[str, Any]] = []
        while len(found) <= limit:
            try:
                resp = self.client.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, f"list {owner}") from exc
            found.extend(resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        items = [ImageRecord.from_item(deserialize(i)) for i in found[:limit]]
        next_cursor = None
        if len(found) > limit:
            last = found[limit - 1]
            key = {"image_id": last["image_id"]["S"], "created_at": last["created_at"]["N"]}
            next_cursor = rules.encode_cursor({"o": owner, "k": key})
        return Page(items=items, cursor=next_cursor)

    def _read_cursor(self, owner: str, cursor: str) -> dict[str, Any]:
        data = rules.decode_cursor(cursor)
        key = data.get("k")
        if data.get("o") != owner or not isinstance(key, dict) or not isinstance(key.get("created_at"), str):
            raise rules.invalid_cursor()
        image_id, created = rules.cursor_id(key.get("image_id")), key["created_at"]
        rules.cursor_time(created)
        return {"image_id": {"S": image_id}, "owner": {"S": owner}, "created_at": {"N": created}}

    def delete(self, image_id: str) -> None:
        try:
            self.client.delete_item(TableName=self.table, Key={"image_id": {"S": image_id}})
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, f"delete {image_id}") from exc

    def _records(self, operation: str, kwargs: dict[str, Any]) -> Iterator[ImageRecord]:
        """The records a Query or a Scan answers, page after page."""
        call = self.client.query if operation == "query" else self.client.scan
        while True:
            try:
                resp = call(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, operation) from exc
            for item in resp.get("Items", []):
                yield ImageRecord.from_item(deserialize(item))
            if "LastEvaluatedKey" not in resp:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": resp["LastEvaluatedKey"]}

    def pending_events(self, limit: int = 100) -> builtins.list[ImageRecord]:
        """The sparse events index, oldest first, per ending status; a record that moved on since
        (its mark names another status) waits for its next end."""
        found: builtins.list[ImageRecord] = []
        for status in ("done", "failed"):
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": EVENTS_INDEX,
                "KeyConditionExpression": "#e = :s",
                "FilterExpression": "#s = :s",
                "ExpressionAttributeNames": {"#e": "event_pending", "#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": status}},
                "Limit": limit,
            }
            found.extend(itertools.islice(self._records("query", kwargs), limit))
        found.sort(key=lambda r: r.updated_at)
        return found[:limit]

    def every(self, status: Status | None = None) -> Iterator[ImageRecord]:
        """Every record of every owner, a page at a time (a Scan: an operator's backfill only)."""
        kwargs: dict[str, Any] = {"TableName": self.table}
        if status is not None:
            kwargs["FilterExpression"] = "#s = :s"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"] = {":s": {"S": status}}
        return self._records("scan", kwargs)

    def stale(self, now: float, *, older_than: float, limit: int = 100) -> builtins.list[ImageRecord]:
        """Queries of the sparse index, oldest first. The index is eventually consistent: the
        sweep's conditional transitions re-check every record it acts on."""
        runs = []
        for kwargs in stale_queries(self.table, now, older_than=older_than, limit=limit):
            kwargs["ExpressionAttributeValues"] = serialize(kwargs["ExpressionAttributeValues"])
            runs.append(builtins.list(itertools.islice(self._records("query", kwargs), limit)))
        return oldest_first(runs, limit)
