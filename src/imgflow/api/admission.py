"""Backpressure: new work is refused (429, ``Retry-After``) while too much of the caller's waits.

The count is per owner, so one busy owner does not lock others out where auth tells owners
apart (``jwt``); with ``none`` or ``token`` everyone is ``local`` and the limit is the server's.
"""

from __future__ import annotations

from collections.abc import Callable

from imgflow.errors import Busy

#: what a refused client is told to wait, in seconds
RETRY_AFTER = 10

Admit = Callable[[str], None]


def admission(limit: int | None, pending: Callable[[str], int] | None) -> Admit:
    """``admit(owner)`` raises Busy once ``pending(owner)`` reaches ``limit``; no-op without either."""

    def admit(owner: str) -> None:
        if limit is None or pending is None:
            return
        waiting = pending(owner)
        if waiting >= limit:
            raise Busy(
                f"{waiting} of your images are waiting to be processed (at most {limit}); retry later",
                retry_after=RETRY_AFTER,
            )

    return admit
