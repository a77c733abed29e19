"""An original the store refuses to hand over (AccessDenied) fails the record; a hiccup retries."""

from __future__ import annotations

import pytest
from svc_kit import Kit

from imgflow.errors import ImgflowError, StorageError, StorageForbidden

#: what S3's adapter puts in the message: for the log, never for the record
SECRET = "S3 AccessDenied on uploads-bucket-123 for role imgflow-processor"


def refuse(kit: Kit, operation: str, error: ImgflowError) -> None:
    """The originals store raises ``error`` from ``operation`` (``get`` or ``head``) from now on."""
    kit.originals.faults.add(operation, error=error, times=None)


@pytest.mark.parametrize("operation", ["get", "head"])
def test_a_forbidden_original_fails_the_record_for_good(kit: Kit, operation: str) -> None:
    record = kit.upload()
    refuse(kit, operation, StorageForbidden(SECRET))
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "storage_forbidden")
    failed = kit.catalog.get(record.image_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "storage_forbidden"
    assert "uploads-bucket-123" not in failed.error.message
    assert "role" not in failed.error.message
    assert failed.lease_token is None
    assert kit.processor.calls == 0
    # a redelivery of the same event changes nothing
    assert kit.service.handle_object_created(record.key).kind in ("unchanged", "ignored")
    assert kit.catalog.get(record.image_id).version == failed.version


@pytest.mark.parametrize("operation", ["get", "head"])
def test_a_retryable_storage_error_still_asks_for_redelivery(kit: Kit, operation: str) -> None:
    record = kit.upload()
    refuse(kit, operation, StorageError("S3 SlowDown"))
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("retry_later", "storage_error")
    assert kit.catalog.get(record.image_id).status in ("awaiting_upload", "processing")
    kit.originals.faults.clear()
    assert kit.service.handle_object_created(record.key).kind == "done"


def test_a_forbidden_head_leaves_a_live_lease_to_its_worker(kit: Kit) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    refuse(kit, "head", StorageForbidden(SECRET))
    assert kit.service.handle_object_created(record.key).kind == "retry_later"
    assert kit.catalog.get(record.image_id).status == "processing"
    kit.clock.advance(kit.service.config.lease_seconds + 1)  # the worker is dead
    assert kit.service.handle_object_created(record.key).kind == "failed"
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert failed.error.code == "storage_forbidden"


def test_a_forbidden_head_leaves_a_done_record_alone(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    done = kit.catalog.get(record.image_id)
    refuse(kit, "head", StorageForbidden(SECRET))
    assert kit.service.handle_object_created(record.key).kind == "ignored"
    after = kit.catalog.get(record.image_id)
    assert (after.status, after.version, after.renditions) == ("done", done.version, done.renditions)
