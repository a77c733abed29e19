"""When an SQS message comes back: the processor applies the service's retry delay to a message
it reports as failed, by changing the message's visibility timeout (at most 12 hours)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from imgflow.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: SQS's ceiling for a message's visibility timeout
MAX_VISIBILITY = 12 * 3600


def queue_url(client: SQSClient, queue_arn: str) -> str:
    """``arn:aws:sqs:REGION:ACCOUNT:NAME`` -> the queue's URL on the client's endpoint."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
        raise StorageError(f"not an SQS queue ARN: {queue_arn!r}")
    return f"{client.meta.endpoint_url.rstrip('/')}/{parts[4]}/{parts[5]}"


class SqsRedelivery:
    #: per method, the IAM actions the role running it needs
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {"delay": ("sqs:ChangeMessageVisibility",)}
    #: every botocore operation this adapter calls -> the IAM actions it needs
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {"ChangeMessageVisibility": ("sqs:ChangeMessageVisibility",)}

    def __init__(self, client: SQSClient) -> None:
        self.client = client

    def delay(self, queue_arn: str, receipt_handle: str, seconds: float) -> int:
        """The message comes back in ``seconds`` (rounded up, capped at 12 hours) instead of after
        the queue's visibility timeout. Returns the timeout set; StorageError if SQS refused."""
        timeout = max(0, min(MAX_VISIBILITY, int(-(-seconds // 1))))
        try:
            self.client.change_message_visibility(
                QueueUrl=queue_url(self.client, queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=timeout
            )
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
            raise StorageError(f"SQS {code or type(exc).__name__} delaying a message: {exc}") from exc
        return timeout
