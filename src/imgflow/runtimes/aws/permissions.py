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
from imgflow.adapters.secret_keys import SecretKeys
from imgflow.adapters.sqs_notifier import SqsNotifier
from imgflow.adapters.sqs_redelivery import SqsRedelivery

Adapter = (
    type[S3ObjectStore]
    | type[DynamoCatalog]
    | type[SqsNotifier]
    | type[SqsRedelivery]
    | type[EventBridgePublisher]
    | type[SecretKeys]
)


#: the key prefix each bucket's objects live under (records.original_key, records.rendition_prefix):
#: object actions are granted on ``<bucket ARN>/<prefix>*`` only
KEY_PREFIXES: Mapping[str, str] = {"UploadsBucket": "originals/", "RenditionsBucket": "renditions/", "ConfigBucket": ""}


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
        return frozenset(a for _, a in self.grants())

    def grants(self) -> frozenset[tuple[str, str]]:
        """(ARN suffix, action) pairs: what and where."""
        table: Mapping[str, tuple[str, ...]] = self.adapter.IAM_ACTIONS
        indexes: Mapping[str, str] = getattr(self.adapter, "IAM_INDEXES", {})
        found = {(self._suffix(a, indexes.get(m)), a) for m in self.methods for a in table[m]}
        if self.reads_missing_keys:
            found.add(("", "s3:ListBucket"))
        return frozenset(found)

    def _suffix(self, action: str, index: str | None) -> str:
        """Which ARN of the resource an action is granted on: the objects under the bucket's key
        prefix or the bucket itself, the table or the one index a method queries, the queue."""
        if action.startswith("s3:"):
            return "" if action == "s3:ListBucket" else f"/{KEY_PREFIXES[self.resource]}*"
        if action == "dynamodb:Query":
            if index is None:
                raise ValueError(f"{self.adapter.__name__} queries no declared index for {action}")
            return f"/index/{index}"
        return ""


#: what the Lambda service does with a function's role, beside the code's own calls: write the
#: function's log group (LoggingConfig), and poll the processor's event source queue
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
SQS_POLL_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
SERVICE_GRANTS: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ApiFunction": (("ApiLogGroup", LOG_ACTIONS),),
    "ProcessorFunction": (("ProcessorLogGroup", LOG_ACTIONS), ("UploadsQueue", SQS_POLL_ACTIONS)),
    "ReconcilerFunction": (("ReconcilerLogGroup", LOG_ACTIONS),),
    "TransformFunction": (("TransformLogGroup", LOG_ACTIONS),),
}


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
    # on-demand /t/ URLs: the record, the source (a rendition or the original), an output too
    # large to answer inline stored beside the renditions (and found again by a HEAD, which must
    # read a missing key as 404: the listing grant), the keys
    "TransformFunction": (
        Use("ImagesTable", DynamoCatalog, ("get",)),
        Use("UploadsBucket", S3ObjectStore, ("get",)),
        Use("RenditionsBucket", S3ObjectStore, ("get", "head", "put"), reads_missing_keys=True),
        Use("TransformKeysSecret", SecretKeys, ("get",)),
        # the recipes YAML: which stored renditions are full views a render may start from
        Use("ConfigBucket", S3ObjectStore, ("head", "get"), reads_missing_keys=True),
    ),
}

#: grants outside a function's own role policy: the API reads the on-demand keys (to sign owners'
#: URLs) through ``ApiTransformKeysPolicy``, which exists only with the CloudFront distribution
EXTRA_POLICY_USES: Mapping[str, tuple[str, tuple[Use, ...]]] = {
    "ApiFunction": ("ApiTransformKeysPolicy", (Use("TransformKeysSecret", SecretKeys, ("get",)),)),
}


def _code(uses: tuple[Use, ...]) -> set[tuple[str, str, str]]:
    return {(u.resource, suffix, a) for u in uses for suffix, a in u.grants()}


def grants(function: str, uses: tuple[Use, ...] | None = None) -> frozenset[tuple[str, str, str]]:
    """(resource logical id, ARN suffix, action) for every grant the function's role needs
    (or only ``uses``' grants: a policy of its own, EXTRA_POLICY_USES)."""
    if uses is not None:
        return frozenset(_code(uses))
    service = {(resource, "", a) for resource, actions in SERVICE_GRANTS[function] for a in actions}
    return frozenset(_code(FUNCTION_USES[function]) | service)


def code_grants(function: str) -> frozenset[tuple[str, str, str]]:
    """Only what the function's code calls (the end-to-end guard checks calls against these),
    its extra policy's grants included."""
    extra = EXTRA_POLICY_USES[function][1] if function in EXTRA_POLICY_USES else ()
    return frozenset(_code(FUNCTION_USES[function]) | _code(extra))


def actions_on(function: str, resource: str) -> frozenset[str]:
    """The actions the function's code may call on a resource."""
    return frozenset(a for r, _, a in code_grants(function) if r == resource)
