"""The sweep re-drives what no message will bring back, and expires abandoned uploads."""

from __future__ import annotations

import pytest
from svc_kit import PNG, Kit, make_kit

from imgflow.errors import ConfigError


def test_a_crash_between_claim_and_done_is_finished_by_reconcile(kit: Kit) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    stuck = kit.catalog.get(record.image_id)
    assert stuck.status == "processing"
    # a redelivery inside the lease waits; so does a sweep
    assert kit.service.handle_object_created(record.key).kind == "retry_later"
    assert kit.service.reconcile().redriven == []
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    report = kit.service.reconcile()
    assert report.redriven == [record.image_id]
    done = kit.catalog.get(record.image_id)
    assert (done.status, done.attempts) == ("done", 2)


def test_an_upload_whose_event_was_lost_is_redriven(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.reconcile().redriven == []  # inside the grace period
    kit.clock.advance(kit.service.config.reconcile_grace_seconds / 2)
    assert kit.service.reconcile().redriven == []  # still inside it: its event may be on the way
    kit.clock.advance(kit.service.config.reconcile_grace_seconds / 2 + 1)
    assert kit.service.reconcile().redriven == [record.image_id]
    assert kit.catalog.get(record.image_id).status == "done"


def test_a_queued_direct_upload_whose_job_was_lost_is_redriven(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    assert kit.service.reconcile().redriven == [record.image_id]


def test_abandoned_uploads_expire_and_keep_their_ttl(kit: Kit) -> None:
    record, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=10)
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    assert kit.service.reconcile().expired == []  # its upload URL still works
    kit.clock.advance(kit.service.config.upload_url_ttl)
    report = kit.service.reconcile()
    assert report.expired == [record.image_id]
    expired = kit.catalog.get(record.image_id)
    assert expired.status == "failed"
    assert expired.error is not None
    assert expired.error.code == "upload_expired"
    assert expired.expires_at == record.expires_at
    assert kit.service.reconcile().expired == []


def test_an_upload_still_landing_after_its_url_expired_is_not_given_up(kit: Kit) -> None:
    """Half the grace period past the upload URL's expiry the upload may still be landing (a slow
    PUT started in time): it stays ``awaiting_upload``, and the object that lands is processed."""
    record, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=len(PNG))
    kit.clock.advance(kit.service.config.upload_url_ttl + kit.service.config.reconcile_grace_seconds / 2)
    assert kit.service.reconcile().expired == []
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"
    kit.originals.put(record.key, PNG, content_type="image/png")
    assert kit.service.handle_object_created(record.key).kind == "done"


def test_an_upload_expires_at_its_ttl_instant() -> None:
    kit = make_kit(upload_expiry_seconds=60)
    record, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=10)
    assert record.expires_at is not None
    kit.clock.now = record.expires_at  # long before the upload URL's end, but its TTL is up
    assert kit.service.reconcile().expired == [record.image_id]


def test_a_queued_record_without_its_object_fails(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.originals.delete(record.key)
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    assert kit.service.reconcile().failed == [record.image_id]
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert failed.error.code == "object_missing"


def test_reconcile_gives_up_after_max_attempts(kit: Kit) -> None:
    record = kit.upload()
    for _ in range(3):  # every attempt's worker dies: no attempt gives up by itself
        kit.crash_mid_job(record.key)
        kit.clock.advance(kit.service.config.lease_seconds + 1)
    report = kit.service.reconcile()
    assert report.failed == [record.image_id]
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert failed.error.code == "too_many_attempts"


def test_one_broken_record_does_not_stop_the_sweep(kit: Kit) -> None:
    first = kit.service.ingest("alice", PNG)
    kit.clock.advance(1)
    second = kit.service.ingest("alice", PNG)
    kit.originals.faults.add("head", key=first.key, error=RuntimeError("boom"), times=None)
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    assert kit.service.reconcile().redriven == [second.image_id]


def test_reconcile_needs_the_processor(kit: Kit) -> None:
    with pytest.raises(ConfigError):
        kit.without_processor().reconcile()


def _dead_lease_without_original(kit: Kit) -> str:
    """A worker killed mid-job, and the original gone meanwhile (operator, lifecycle rule)."""
    record = kit.upload()
    kit.crash_mid_job(record.key)
    kit.originals.delete(record.key)
    return record.image_id


def test_a_dead_lease_whose_original_vanished_ends_failed(kit: Kit) -> None:
    image_id = _dead_lease_without_original(kit)
    key = kit.catalog.get(image_id).key
    # inside the lease the worker may still be running: a redelivery leaves the record to it
    assert kit.service.handle_object_created(key).reason == "object_missing"
    assert kit.catalog.get(image_id).status == "processing"
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    assert kit.service.reconcile().failed == [image_id]
    failed = kit.catalog.get(image_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "object_missing"
    assert failed.lease_token is None
    assert kit.catalog.stale(kit.clock.now, older_than=kit.clock.now) == []


def test_150_dead_leases_without_originals_do_not_starve_a_lost_upload(kit: Kit) -> None:
    stuck = [_dead_lease_without_original(kit) for _ in range(150)]
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    lost = kit.upload()  # landed, but its event was lost
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    failed = kit.service.reconcile().failed + kit.service.reconcile().failed
    assert sorted(failed) == sorted(stuck)
    assert kit.catalog.get(lost.image_id).status == "done"


def test_150_uploads_still_awaited_do_not_pin_the_sweep(kit: Kit) -> None:
    # upload URLs handed out and not (yet) used: nothing to do for them until the URL dies
    waiting = [
        kit.service.create_upload("alice", filename=None, content_type="image/png", size=10)[0] for _ in range(150)
    ]
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    lost = kit.upload()  # landed, but its event was lost
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    reports = [kit.service.reconcile() for _ in range(2)]
    assert [r.redriven for r in reports] == [[], [lost.image_id]]
    assert kit.catalog.get(lost.image_id).status == "done"
    assert {kit.catalog.get(r.image_id).status for r in waiting} == {"awaiting_upload"}
    # the URLs die: the touched records still expire, keeping their TTL
    kit.clock.advance(kit.service.config.upload_url_ttl + kit.service.config.reconcile_grace_seconds)
    expired = kit.service.reconcile().expired + kit.service.reconcile().expired
    assert sorted(expired) == sorted(r.image_id for r in waiting)
    assert all(kit.catalog.get(r.image_id).expires_at == r.expires_at for r in waiting)
