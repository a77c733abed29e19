"""The retry policy lives in the service: the delay a redelivery asks for, when it gives up, and
how an attempt the runtime stopped (crash, timeout, memory ceiling) ends."""

from __future__ import annotations

from svc_kit import Kit, make_kit

from imgflow.errors import DiskFull
from imgflow.service import Outcome


def test_retries_back_off_exponentially_and_stop_after_max_attempts(kit: Kit) -> None:
    retry = Outcome("retry_later", "X", reason="storage_error")
    delays = [kit.service.retry_delay(retry, n) for n in (1, 2, 3)]
    assert delays == [2.0, 4.0, 8.0]
    assert kit.service.retry_delay(retry, 4) is None  # max_attempts + the service's own give-up delivery


def test_the_backoff_is_capped() -> None:
    kit = make_kit(retry_delay_seconds=10.0, retry_max_delay_seconds=15.0, max_attempts=9)
    assert kit.service.retry_delay(Outcome("retry_later", "X", reason="contended"), 5) == 15.0


def test_a_full_disk_retries_over_minutes_and_says_enospc(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = DiskFull("ENOSPC (No space left on device)")
    first = kit.service.handle_object_created(record.key)
    assert (first.kind, first.reason) == ("retry_later", "disk_full")
    waits = [kit.service.retry_delay(first, n) for n in (1, 2)]
    assert waits == [60.0, 120.0]  # minutes, not the 2 s of a passing hiccup
    assert kit.service.handle_object_created(record.key).kind == "retry_later"
    last = kit.service.handle_object_created(record.key)
    assert (last.kind, last.reason) == ("failed", "disk_full")
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert "ENOSPC" in failed.error.message
    assert "gave up after 3 attempts" in failed.error.message
    assert kit.rendition_keys(record.image_id) == []


def test_a_memory_error_fails_the_image_with_its_own_code(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = MemoryError()
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "memory_limit")


def _held(kit: Kit) -> tuple[str, str]:
    """A record whose worker died mid-job, holding the lease ``dead``."""
    record = kit.upload()
    kit.crash_mid_job(record.key, lease_token="dead")
    assert kit.catalog.get(record.image_id).status == "processing"
    return record.image_id, record.key


def test_a_released_attempt_is_retried_at_once_and_counts(kit: Kit) -> None:
    image_id, key = _held(kit)
    assert kit.service.handle_object_created(key).reason == "lease_held"  # without the release: wait it out
    kit.service.release_attempt(image_id, "dead")
    done = kit.service.handle_object_created(key)
    assert done.kind == "done"
    assert kit.catalog.get(image_id).attempts == 2


def test_an_ended_attempt_fails_for_good_and_keeps_no_rendition(kit: Kit) -> None:
    image_id, key = _held(kit)
    kit.renditions.put(f"renditions/{image_id}/1/thumb.jpg", b"partial", content_type="image/jpeg")
    failed = kit.service.end_attempt(image_id, "dead", "timeout", "the job ran longer than its 120 s timeout")
    assert failed is not None
    assert failed.error is not None
    assert (failed.status, failed.error.code) == ("failed", "timeout")
    assert kit.rendition_keys(image_id) == []
    assert kit.service.handle_object_created(key).kind == "unchanged"  # not retried
    assert kit.service.end_attempt(image_id, "dead", "timeout", "again") is None  # that lease is gone


def test_a_dead_letter_fails_a_record_nobody_works_on(kit: Kit) -> None:
    record = kit.upload()
    failed = kit.service.dead_letter(record.image_id, "gave up after 4 deliveries (last: storage_error)")
    assert failed is not None
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (
        "dead_lettered",
        "gave up after 4 deliveries (last: storage_error)",
    )
