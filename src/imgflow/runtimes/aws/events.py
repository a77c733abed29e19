"""Raw Lambda events -> plain records, through powertools' typed views.

The processor is fed S3 notifications directly, SQS messages whose body is an
S3 notification (or S3's one-off ``s3:TestEvent``), and EventBridge "Object
Created" events. Each becomes :class:`ObjectEvent` values with the key
URL-decoded (S3 form-encodes keys in notifications: ``unquote_plus``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent, SQSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

EventKind = Literal["created", "removed", "test", "other"]
Shape = Literal["sqs", "s3", "eventbridge", "s3_test", "unknown"]

S3_TEST_EVENT = "s3:TestEvent"


@dataclass(frozen=True)
class ObjectEvent:
    """One thing that happened to one object, decoded."""

    kind: EventKind
    bucket: str
    key: str
    etag: str | None = None
    name: str = ""
    #: the config version (the config object's ETag) a backfill message was sent for
    config_version: str | None = None


class NotAnS3Message(ValueError):
    """An SQS body that is not an S3 notification (someone else's message)."""


def shape_of(event: Mapping[str, Any]) -> Shape:
    """Which of the shapes the processor accepts this invocation is."""
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return "sqs"
        if source == "aws:s3":
            return "s3"
    if event.get("source") == "aws.s3" and "detail-type" in event and isinstance(event.get("detail"), Mapping):
        return "eventbridge"
    if event.get("Event") == S3_TEST_EVENT:
        return "s3_test"
    return "unknown"


def _kind(event_name: str) -> EventKind:
    name = event_name.removeprefix("s3:")
    if name.startswith("ObjectCreated"):
        return "created"
    if name.startswith("ObjectRemoved"):
        return "removed"
    return "other"


def from_s3_notification(event: Mapping[str, Any]) -> Iterator[ObjectEvent]:
    """An S3 notification (``Records[].s3``), as delivered directly or inside an SQS body."""
    for record in S3Event(dict(event)).records:
        if record.event_source != "aws:s3":
            continue
        obj = record.s3.get_object
        yield ObjectEvent(
            kind=_kind(record.event_name),
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),  # form-encoded in notifications ('+' is a space)
            etag=obj.etag or None,
            name=record.event_name,
        )


def from_eventbridge(event: Mapping[str, Any]) -> ObjectEvent:
    """An S3 event delivered through EventBridge (``detail.bucket.name`` / ``detail.object.key``)."""
    view = S3EventBridgeNotificationEvent(dict(event))
    detail_type = view.detail_type
    kind: EventKind = (
        "created" if detail_type == "Object Created" else "removed" if detail_type == "Object Deleted" else "other"
    )
    obj = view.detail.object
    return ObjectEvent(
        kind=kind,
        bucket=view.detail.bucket.name,
        key=obj.key,  # powertools applies unquote_plus, as for notifications
        etag=obj.get("etag") or None,
        name=detail_type,
    )


def from_sqs_record(record: SQSRecord) -> list[ObjectEvent]:
    """The S3 events an SQS message carries. Raises :class:`NotAnS3Message` for anything else."""
    try:
        body = json.loads(record.body)
    except ValueError:
        raise NotAnS3Message("the message body is not JSON") from None
    if not isinstance(body, dict):
        raise NotAnS3Message("the message body is not a JSON object")
    if body.get("Event") == S3_TEST_EVENT:
        return [ObjectEvent(kind="test", bucket=str(body.get("Bucket", "")), key="", name=S3_TEST_EVENT)]
    if shape_of(body) != "s3":
        raise NotAnS3Message("the message body is not an S3 notification")
    extra = body.get("imgflow")
    version = extra.get("config_version") if isinstance(extra, dict) else None
    events = list(from_s3_notification(body))
    if isinstance(version, str) and version:
        events = [replace(e, config_version=version) for e in events]
    return events


def sqs_records(event: Mapping[str, Any]) -> Iterator[SQSRecord]:
    return SQSEvent(dict(event)).records
