"""Every adapter against its port, checked by mypy (strict) over this module: an adapter whose
method drifts from the Protocol (a renamed keyword, a wider return type, a missing verb) fails
``make lint`` here, before any contract test runs. Nothing in it runs: the checks are typed
identity functions behind ``TYPE_CHECKING``, so importing it imports no adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from imgflow.adapters.dynamo_catalog import DynamoCatalog
    from imgflow.adapters.fs_store import FsObjectStore
    from imgflow.adapters.memory import MemoryCatalog, MemoryObjectStore
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.adapters.sqlite_catalog import SqliteCatalog
    from imgflow.adapters.sqs_notifier import SqsNotifier
    from imgflow.ports import Catalog, ObjectStore, Processor
    from imgflow.processing import process_image
    from imgflow.records import ImageRecord

    def _s3(store: S3ObjectStore) -> ObjectStore:
        return store

    def _fs(store: FsObjectStore) -> ObjectStore:
        return store

    def _memory_store(store: MemoryObjectStore) -> ObjectStore:
        return store

    def _dynamo(catalog: DynamoCatalog) -> Catalog:
        return catalog

    def _sqlite(catalog: SqliteCatalog) -> Catalog:
        return catalog

    def _memory_catalog(catalog: MemoryCatalog) -> Catalog:
        return catalog

    #: the service's ``on_queued`` / ``rerun_later`` hooks
    def _notifier(notifier: SqsNotifier) -> Callable[[ImageRecord], None]:
        return notifier

    def _redrive(catalog: SqliteCatalog) -> Callable[[ImageRecord], None]:
        return catalog.redrive

    _processor: Processor = process_image
