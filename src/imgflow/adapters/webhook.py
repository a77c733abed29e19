"""Image events to a webhook (the local runtime's EventBridge): a signed JSON POST.

The body is ``{"source", "detail-type", "time", "detail"}`` (EventBridge's field names) and the
``Imgflow-Signature`` header is ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
secret>``: a receiver recomputes it and refuses stale ``t`` (replays). A delivery is retried with
backoff on a connection error or a 5xx/429; then StorageError: the record's event stays pending
and the reconcile sweep resends it. :class:`Background` runs deliveries on a thread of their own,
so a worker never waits on a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable

import httpx

from imgflow.errors import StorageError
from imgflow.ports import ImageEvent

log = logging.getLogger("imgflow.service")

SIGNATURE_HEADER = "Imgflow-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (docs/local.md shows it): the MAC matches and ``t`` is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookPublisher:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        tries: int = 4,
        backoff: float = 0.5,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.secret = secret
        self.tries = tries
        self.backoff = backoff
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep

    def publish(self, event: ImageEvent) -> None:
        now = self.clock()
        body = json.dumps(
            {"source": event.source, "detail-type": event.detail_type, "time": int(now), "detail": event.detail},
            separators=(",", ":"),
        ).encode()
        headers = {"content-type": "application/json"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, int(now), body)
        problem = ""
        for attempt in range(self.tries):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # the receiver refuses it: retrying now cannot help (the sweep tries later)
        raise StorageError(f"webhook {self.url} did not take the event: {problem}")


class Background:
    """Runs submitted callables one at a time on a daemon thread, so the submitter never waits.

    Bounded: past ``maxsize`` waiting deliveries a submission is dropped (the event stays pending
    in the catalog, and the reconcile sweep sends it)."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: queue.Queue[Callable[[], object]] = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, task: Callable[[], object]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="imgflow-events", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            log.warning("event deliveries are backed up; the sweep sends this one")

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                task()
            except Exception:
                log.exception("event delivery raised; the sweep retries")
            finally:
                self._queue.task_done()

    def join(self) -> None:
        """Wait until every submitted delivery ran (tests; a worker's orderly stop)."""
        self._queue.join()
