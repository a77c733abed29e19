"""The one wiring function: settings in, a service (and an app) out. Production and tests alike.

Nothing connects at import: boto3, the SQLite file and the image engine are reached only
when :func:`build_service` runs, and the image engine only ``with_processor=True``. Tests call
the same :func:`build_service` with :class:`Adapters` (in-memory fakes) and a processor.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imgflow.errors import ConfigError
from imgflow.ports import Catalog, EventPublisher, ObjectStore, Processor
from imgflow.records import ImageRecord
from imgflow.service import Deps, ImageService, ServiceConfig
from imgflow.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

SIGNING_KEY_FILE = "signing.key"
OBJECTS_DIR = "objects"
DB_FILE = "imgflow.db"


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients for the AWS backend (``s3``, ``dynamodb``, and ``sqs`` when a queue is
    configured); :func:`aws_clients` builds them."""

    s3: Any
    dynamodb: Any
    sqs: Any = None
    events: Any = None


def service_config(settings: Settings) -> ServiceConfig:
    return ServiceConfig(
        recipes=dict(settings.recipes),
        default_recipe=settings.default_recipe,
        limits=settings.limits,
        direct_upload_max_bytes=settings.direct_upload_max_bytes,
        upload_url_ttl=settings.upload_url_ttl,
        download_url_ttl=settings.download_url_ttl,
        upload_expiry_seconds=settings.upload_expiry_seconds,
        tombstone_ttl_seconds=settings.tombstone_ttl_seconds,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        retry_delay_seconds=settings.retry_delay_seconds,
        retry_max_delay_seconds=settings.retry_max_delay_seconds,
        disk_full_retry_seconds=settings.disk_full_retry_seconds,
        reconcile_grace_seconds=settings.reconcile_grace_seconds,
        cdn_base_url=settings.cdn_base_url,
    )


def signing_key(settings: Settings) -> bytes:
    """The local HMAC key: from settings, else ``data_dir/signing.key``, made once (mode 0600)."""
    if settings.signing_key:
        key = settings.signing_key.encode()
        if len(key) < 16:
            raise ConfigError("signing_key must be at least 16 characters")
        return key
    path = Path(settings.data_dir) / SIGNING_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-")  # mkstemp files are 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            # link, not rename: when two processes race, the first key wins and both read it
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_text(encoding="ascii").strip().encode()
    if len(key) < 16:
        raise ConfigError(f"{path} holds no usable signing key; delete it to make a new one")
    return key


def aws_clients(settings: Settings) -> AwsClients:
    import boto3
    from botocore.config import Config

    common: dict[str, Any] = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    return AwsClients(
        s3=s3_client(settings),
        dynamodb=boto3.client("dynamodb", config=Config(retries={"mode": "standard"}), **common),
        sqs=sqs_client(settings) if settings.queue_url else None,
        events=aws_client(settings, "events") if settings.event_bus_name else None,
    )


def s3_client(settings: Settings) -> Any:
    """S3 through its regional virtual-hosted endpoint (``{bucket}.s3.{region}.amazonaws.com``), which
    presigned URLs then name: the global endpoint is refused by opt-in regions and answers a new
    bucket elsewhere with a 307 (no CORS headers) for hours. An emulator (``aws_endpoint_url``) is
    reached path-style."""
    import boto3
    from botocore.config import Config

    s3: dict[str, Any] = (
        {"addressing_style": "path"}
        if settings.aws_endpoint_url
        else {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}
    )
    config = Config(signature_version="s3v4", s3=s3, retries={"mode": "standard"})  # type: ignore[arg-type]
    return boto3.client("s3", config=config, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client for the settings' region and endpoint, with standard retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,  # type: ignore[call-overload]
        config=Config(retries={"mode": "standard"}),
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
    )


def sqs_client(settings: Settings) -> Any:
    return aws_client(settings, "sqs")


def event_publisher(settings: Settings, clients: AwsClients | None = None) -> EventPublisher | None:
    """EventBridge on the aws backend (``event_bus_name``), a signed webhook locally (``webhook_url``)."""
    if settings.backend == "aws" and settings.event_bus_name:
        from imgflow.adapters.eventbridge import EventBridgePublisher

        client = clients.events if clients is not None and clients.events is not None else None
        return EventBridgePublisher(client or aws_client(settings, "events"), settings.event_bus_name)
    if settings.backend in ("local", "cluster") and settings.webhook_url:
        from imgflow.adapters.webhook import WebhookPublisher

        return WebhookPublisher(settings.webhook_url, settings.webhook_secret)
    return None


def _processor() -> Processor:
    from imgflow.processing import process_image

    return process_image


@dataclass(frozen=True)
class Adapters:
    """The ports a service runs on. :func:`build_service` makes them from settings unless it is
    given these (tests: the in-memory fakes; the same wiring otherwise)."""

    originals: ObjectStore
    renditions: ObjectStore
    catalog: Catalog
    #: handle a record again once the attempt in hand ends (locally: the SQLite job queue);
    #: the service's ``rerun_later`` hook (``redrive`` is the facade's backfill verb)
    rerun_later: Callable[[ImageRecord], None] | None = None


def _local_adapters(settings: Settings, now: Callable[[], float]) -> Adapters:
    from imgflow.adapters.fs_store import FsObjectStore
    from imgflow.adapters.local_signing import UploadSigner
    from imgflow.adapters.sqlite_catalog import SqliteCatalog

    data_dir = Path(settings.data_dir)
    signer = UploadSigner(signing_key(settings), clock=now)
    store = FsObjectStore(data_dir / OBJECTS_DIR, signer=signer, public_base_url=settings.public_base_url, clock=now)
    catalog = SqliteCatalog(data_dir / DB_FILE, clock=now)
    return Adapters(originals=store, renditions=store, catalog=catalog, rerun_later=catalog.redrive)


def _aws_adapters(settings: Settings, aws: AwsClients) -> Adapters:
    from imgflow.adapters.dynamo_catalog import DynamoCatalog
    from imgflow.adapters.s3_store import S3ObjectStore

    return Adapters(
        originals=S3ObjectStore(aws.s3, settings.uploads_bucket),
        renditions=S3ObjectStore(aws.s3, settings.renditions_bucket),
        catalog=DynamoCatalog(aws.dynamodb, settings.table_name),
    )


def build_service(
    settings: Settings,
    *,
    with_processor: bool = False,
    processor: Processor | None = None,
    adapters: Adapters | None = None,
    clients: AwsClients | None = None,
    clock: Callable[[], float] | None = None,
    on_queued: Callable[[ImageRecord], None] | None = None,
    on_publish_error: Callable[[ImageRecord], None] | None = None,
    background: Callable[[Callable[[], object]], None] | None = None,
) -> ImageService:
    """``with_processor=True`` imports the image engine (workers, the processor Lambda); the API
    builds without it. ``processor`` is used instead of the engine when given. ``adapters``
    replaces the stores and the catalog made from settings; ``clients`` the boto3 clients.
    On the aws backend with ``settings.queue_url`` and no ``on_queued``, records the service
    queues itself are announced on that queue (:class:`~imgflow.adapters.sqs_notifier.SqsNotifier`).
    Images that end publish their event (:func:`event_publisher`); ``on_publish_error`` counts
    failures, ``background`` runs deliveries off the caller's thread."""
    now = clock or time.time
    aws: AwsClients | None = clients
    if adapters is None and settings.backend == "local":
        adapters = _local_adapters(settings, now)
    elif adapters is None and settings.backend == "cluster":
        from imgflow.bootstrap_cluster import cluster_adapters

        adapters = cluster_adapters(settings, now)
    elif adapters is None:
        aws = clients or aws_clients(settings)
        adapters = _aws_adapters(settings, aws)
        if on_queued is None and settings.queue_url:
            from imgflow.adapters.sqs_notifier import SqsNotifier

            sqs = aws.sqs if aws.sqs is not None else sqs_client(settings)
            on_queued = SqsNotifier(sqs, settings.queue_url, bucket=settings.uploads_bucket)
    if processor is None and with_processor:
        processor = _processor()
    deps = Deps(
        originals=adapters.originals,
        renditions=adapters.renditions,
        catalog=adapters.catalog,
        config=service_config(settings),
        processor=processor,
        clock=now,
        on_queued=on_queued,
        rerun_later=adapters.rerun_later,
        publisher=event_publisher(settings, aws),
        on_publish_error=on_publish_error,
        background=background,
    )
    return ImageService(deps)


def build_app(
    settings: Settings,
    *,
    service: ImageService | None = None,
    clients: AwsClients | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The HTTP API over :func:`build_service` (without the image engine). On the local backend
    the app also serves the folder store's signed upload and download URLs."""
    from imgflow.adapters.fs_store import FsObjectStore
    from imgflow.adapters.sqlite_catalog import SqliteCatalog
    from imgflow.api import create_app

    svc = service or build_service(settings, with_processor=False, clients=clients, clock=clock)
    local_store = svc.originals if isinstance(svc.originals, FsObjectStore) else None
    pending = svc.catalog.count_pending if isinstance(svc.catalog, SqliteCatalog) else None
    if settings.backend == "cluster":  # the PostgreSQL catalog counts them too (psycopg only here)
        from imgflow.adapters.pg_catalog import PgCatalog

        pending = svc.catalog.count_pending if isinstance(svc.catalog, PgCatalog) else None
    from imgflow.bootstrap_ondemand import build_links

    return create_app(svc, settings, local_store=local_store, pending=pending, links=build_links(settings))
