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
from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.adapters.secret_keys import SecretKeys
from imgflow.adapters.sqs_notifier import SqsNotifier

Adapter = type[S3ObjectStore] | type[DynamoCatalog] | type[SqsNotifier] | type[SecretKeys]


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
    ),
    # handle_object_created: claim, read the original, write renditions, drop older generations
    "ProcessorFunction": (
        Use("ImagesTable", DynamoCatalog, ("get", "create", "transition")),
        # delete: an upload that lands after its image was deleted is removed by its event
        Use("UploadsBucket", S3ObjectStore, ("head", "get", "delete"), reads_missing_keys=True),
        Use("RenditionsBucket", S3ObjectStore, ("put", "list", "delete")),
    ),
    # the sweep: find stale records, check their originals, give up on them, or re-drive them
    # by a message on the processors' queue (it never processes an image itself)
    "ReconcilerFunction": (
        Use("ImagesTable", DynamoCatalog, ("stale", "get", "transition")),
        Use("UploadsBucket", S3ObjectStore, ("head",), reads_missing_keys=True),
        Use("UploadsQueue", SqsNotifier, ("notify",)),
    ),
    # on-demand /t/ URLs: the record, the source (a rendition or the original), an output too
    # large to answer inline stored beside the renditions (and found again by a HEAD), the keys
    "TransformFunction": (
        Use("ImagesTable", DynamoCatalog, ("get",)),
        Use("UploadsBucket", S3ObjectStore, ("get",)),
        Use("RenditionsBucket", S3ObjectStore, ("get", "head", "put")),
        Use("TransformKeysSecret", SecretKeys, ("get",)),
    ),
}

#: grants outside a function's own role policy: the API reads the on-demand keys (to sign owners'
#: URLs) through ``ApiTransformKeysPolicy``, which exists only with the CloudFront distribution
EXTRA_POLICY_USES: Mapping[str, tuple[str, tuple[Use, ...]]] = {
    "ApiFunction": ("ApiTransformKeysPolicy", (Use("TransformKeysSecret", SecretKeys, ("get",)),)),
}


def arn_suffix(action: str) -> str:
    """Which ARN of its resource an action is granted on: S3 objects (``/*``) or the bucket itself,
    the table or its indexes (the catalog queries only the owner index), the queue."""
    if action.startswith("s3:"):
        return "" if action == "s3:ListBucket" else "/*"
    if action == "dynamodb:Query":
        return "/index/*"
    return ""


def grants(function: str, uses: tuple[Use, ...] | None = None) -> frozenset[tuple[str, str, str]]:
    """(resource logical id, ARN suffix, action) for every grant the function's role policy needs
    (or ``uses``' grants)."""
    chosen = FUNCTION_USES[function] if uses is None else uses
    return frozenset((u.resource, arn_suffix(a), a) for u in chosen for a in u.actions())


def actions_on(function: str, resource: str) -> frozenset[str]:
    return frozenset(a for r, _, a in grants(function) if r == resource)
