"""Announce a record the service moved to ``queued`` on the processor's SQS queue.

On AWS the processor is fed by S3's ObjectCreated notifications through SQS. When the
service itself queues a record (reprocess, a direct upload), no object is created, so
S3 sends nothing: this adapter sends the message S3 would have sent, an S3 notification
whose ``eventName`` is ``ObjectCreated:Reprocess``, and the processor handles it like any
other. Processing is at least once, so a duplicate (a direct upload's own S3 event and
this message) is harmless; a message that cannot be sent raises StorageError, and the
reconcile sweep picks the record up later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from imgflow.errors import StorageError
from imgflow.records import ImageRecord

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

EVENT_NAME = "ObjectCreated:Reprocess"
#: the notification's ``configurationId``: tells these messages from S3's own in the logs
CONFIGURATION_ID = "imgflow-requeue"


def s3_notification(record: ImageRecord, *, bucket: str, region: str | None = None) -> dict[str, Any]:
    """The S3 notification S3 would send for the record's original (key form-encoded, as S3 does)."""
    obj: dict[str, Any] = {"key": quote_plus(record.key, safe="/")}
    if record.size is not None:
        obj["size"] = record.size
    if record.etag is not None:
        obj["eTag"] = record.etag
    event: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": datetime.fromtimestamp(record.updated_at, UTC).isoformat(timespec="milliseconds"),
        "eventName": EVENT_NAME,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }
    if region:
        event["awsRegion"] = region
    return {"Records": [event]}


class SqsNotifier:
    """``build_service(..., on_queued=SqsNotifier(...))``: one SendMessage per record queued.

    ``bucket`` is the uploads bucket: the processor ignores events for any other."""

    #: per method, the IAM actions the role running it needs
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {"notify": ("sqs:SendMessage",)}
    #: every botocore operation this adapter calls -> the IAM actions it needs
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {"SendMessage": ("sqs:SendMessage",)}

    def __init__(self, client: SQSClient, queue_url: str, *, bucket: str, config_version: str | None = None) -> None:
        self.client = client
        self.queue_url = queue_url
        self.bucket = bucket
        #: a backfill's: the config version (the config object's ETag) its images are to be made with;
        #: a processor holding another version checks the config object before processing them
        self.config_version = config_version

    def __call__(self, record: ImageRecord) -> None:
        self.notify(record)

    def notify(self, record: ImageRecord) -> None:
        body = s3_notification(record, bucket=self.bucket, region=self.client.meta.region_name)
        if self.config_version is not None:
            body["imgflow"] = {"config_version": self.config_version}
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
            raise StorageError(
                f"SQS {code or type(exc).__name__} sending {record.image_id} to {self.queue_url}: {exc}"
            ) from exc
