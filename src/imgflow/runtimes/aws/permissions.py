"""What each Lambda function calls, per resource: the source of template.yaml's IAM grants.

Each function lists, per resource of the template (logical id), the adapter that reaches it
and the adapter methods its code paths call; the adapters' ``IAM_ACTIONS`` turn methods into
actions. ``tests/aws/test_template.py`` checks that every role grants exactly these actions on
exactly these resources, and the end-to-end run's before-call guard fails any call a function
makes outside them. Importing this module imports the adapter classes (botocore), so the
handlers never import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.eventbridge import EventBridgePublisher
from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.adapters.sqs_notifier import SqsNotifier
from imgflow.adapters.sqs_redelivery import SqsRedelivery

Adapter = (
    type[S3ObjectStore] | type[DynamoCatalog] | type[SqsNotifier] | type[SqsRedelivery] | type[EventBridgePublisher]
)


@dataclass(frozen=True)
class Use:
    """One function's use of one resource through one adapter."""

    resource: str
    adapter: Adapter
    methods: tuple[str, ...]
    #: a key read here may be missing, and the code must see a 404 for it: S3 answers a missing
    #: key with 403 AccessDenied, not 404, unless the role may also list the bucket
    reads_missing_keys: bool = False

    def actions(self) -> frozenset[str]:
        table: Mapping[str, tuple[str, ...]] = self.adapter.IAM_ACTIONS
        found = {a for m in self.methods for a in table[m]}
        if self.reads_missing_keys:
            found.add("s3:ListBucket")
        return frozenset(found)


FUNCTION_USES: Mapping[str, tuple[Use, ...]] = {
    # requests: presigned and direct uploads, reads, listing, delete, reprocess (announced on the queue)
    "ApiFunction": (
        Use("ImagesTable", DynamoCatalog, ("create", "get", "transition", "list", "delete")),
        Use("UploadsBucket", S3ObjectStore, ("presign_upload", "put", "delete")),
        Use("RenditionsBucket", S3ObjectStore, ("list", "delete", "download_url")),
        Use("UploadsQueue", SqsNotifier, ("notify",)),
        # the recipes YAML and its watermark files (imgflow.runtimes.aws.config_watch)
        Use("ConfigBucket", S3ObjectStore, ("head", "get"), reads_missing_keys=True),
    ),
    # handle_object_created: claim, read the original, write renditions, drop older generations
    "ProcessorFunction": (
        Use("ImagesTable", DynamoCatalog, ("get", "create", "transition")),
        # delete: an upload that lands after its image was deleted is removed by its event
        Use("UploadsBucket", S3ObjectStore, ("head", "get", "delete"), reads_missing_keys=True),
        Use("RenditionsBucket", S3ObjectStore, ("put", "list", "delete")),
        # a failed message comes back after the service's retry delay (ChangeMessageVisibility)
        Use("UploadsQueue", SqsRedelivery, ("delay",)),
        # Image Processed / Image Failed (EventBus: the bus the EventBusName parameter names)
        Use("EventBus", EventBridgePublisher, ("publish",)),
        Use("ConfigBucket", S3ObjectStore, ("head", "get"), reads_missing_keys=True),
    ),
    # the sweep: find stale records, check their originals, give up on them, or re-drive them
    # by a message on the processors' queue (it never processes an image itself)
    "ReconcilerFunction": (
        Use("ImagesTable", DynamoCatalog, ("stale", "get", "transition", "pending_events")),
        Use("UploadsBucket", S3ObjectStore, ("head",), reads_missing_keys=True),
        Use("UploadsQueue", SqsNotifier, ("notify",)),
        # republishes the events still pending, publishes those of the images it fails
        Use("EventBus", EventBridgePublisher, ("publish",)),
    ),
}


def arn_suffix(action: str) -> str:
    """Which ARN of its resource an action is granted on: S3 objects (``/*``) or the bucket itself,
    the table or its indexes (the owner index, the sparse events index), the queue, the bus."""
    if action.startswith("s3:"):
        return "" if action == "s3:ListBucket" else "/*"
    if action == "dynamodb:Query":
        return "/index/*"
    return ""


def grants(function: str) -> frozenset[tuple[str, str, str]]:
    """(resource logical id, ARN suffix, action) for every grant the function needs."""
    return frozenset((u.resource, arn_suffix(a), a) for u in FUNCTION_USES[function] for a in u.actions())


def actions_on(function: str, resource: str) -> frozenset[str]:
    return frozenset(a for r, _, a in grants(function) if r == resource)
