"""The retry policy, in one place: when an attempt gives up and what delay a redelivery asks for.

The runtimes apply what this decides (the local queue's ``available_at``; SQS's message
visibility on AWS); they never compute a delay or a give-up themselves.
"""

from __future__ import annotations

from imgflow.errors import DiskFull
from imgflow.service.deps import Deps
from imgflow.service.types import Outcome, Reason

#: a write that failed with ENOSPC (a full disk frees up in minutes, not seconds)
DISK_FULL = DiskFull.code
#: deliveries past ``max_attempts``: the service's own give-up (``too_many_attempts``) needs one more
EXTRA_DELIVERIES = 1


def backoff(svc: Deps, attempt: int, reason: str | None) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from the base (a full disk: from its own,
    longer base), capped at ``retry_max_delay_seconds``."""
    cfg = svc.config
    base = cfg.disk_full_retry_seconds if reason == DISK_FULL else cfg.retry_delay_seconds
    return float(min(cfg.retry_max_delay_seconds, base * 2.0 ** max(0, attempt - 1)))


def retry_delay(svc: Deps, outcome: Outcome, deliveries: int) -> float | None:
    """For a ``retry_later`` outcome delivered ``deliveries`` times (this one included): seconds
    until the next delivery, or None when the runtime should stop delivering (dead-letter it and
    call :func:`dead_letter`). A live lease elsewhere waits for that lease to end."""
    if deliveries >= svc.config.max_attempts + EXTRA_DELIVERIES:
        return None
    record = outcome.record
    if outcome.reason == Reason.LEASE_HELD and record is not None and record.lease_expires_at:
        return max(0.1, record.lease_expires_at - svc.clock() + 0.1)
    return backoff(svc, deliveries, outcome.reason)


def give_up_message(attempts: int, reason: str | None) -> tuple[str, str]:
    """The code and message of a record whose last allowed attempt asked for a retry."""
    if reason == DISK_FULL:
        message = f"no space left on device (ENOSPC) while writing renditions; gave up after {attempts} attempts"
        return DISK_FULL, message
    return Reason.TOO_MANY_ATTEMPTS, f"gave up after {attempts} attempts (last: {reason or 'unknown'})"
