"""Image events locally: a signed webhook to a real HTTP receiver on 127.0.0.1, sent from a
thread of the worker's own (the worker never waits), retried with backoff, resent by the sweep."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from imgflow.adapters.webhook import SIGNATURE_HEADER, verify
from imgflow.records import original_key
from imgflow.runtimes.local.wiring import worker_service
from imgflow.settings import load_settings
from imgflow.usermeta import UserMeta
from testkit import free_port

SECRET = "whsec-test-0123456789"
PHOTO = "photos/coffee.png"


class Receiver:
    """Records what it gets; answers ``fail_first`` requests with 503; can be held."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.arrived.set()
                receiver.release.wait(30)
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/imgflow"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.got) >= count, self.got

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _service(tmp_path: Path, url: str, *, background: bool = True) -> Any:
    settings = load_settings(
        environ={"IMGFLOW_DATA_DIR": str(tmp_path), "IMGFLOW_WEBHOOK_URL": url, "IMGFLOW_WEBHOOK_SECRET": SECRET}
    )
    return worker_service(settings, background=background)


def _process(service: Any, data: bytes) -> Any:
    meta = UserMeta(tags=("Coffee", "cup"), alt="A cup", metadata={"sku": "C-9"})
    record = service.ingest("local", data, filename="coffee.png", meta=meta)
    return service.handle_object_created(original_key(record.image_id))


def test_a_done_image_is_posted_signed_without_holding_the_worker(
    tmp_path: Path, receiver: Receiver, corpus: Path
) -> None:
    service = _service(tmp_path, receiver.url)
    receiver.release.clear()  # the receiver takes its time
    try:
        outcome = _process(service, (corpus / PHOTO).read_bytes())
        assert outcome.kind == "done"  # returned while the receiver still holds the request
        assert receiver.arrived.wait(30)
        assert receiver.got == []
    finally:
        receiver.release.set()
    receiver.wait(1)
    headers, body = receiver.got[0]
    assert headers["content-type"] == "application/json"
    signature = headers[SIGNATURE_HEADER.lower()]
    sent_at = int(signature.split(",")[0].removeprefix("t="))  # verified as of its own timestamp
    assert verify(SECRET, signature, body, now=sent_at)
    assert not verify("another-secret-000000", signature, body, now=sent_at)
    assert not verify(SECRET, signature, body + b" ", now=sent_at)
    event = json.loads(body)
    assert (event["source"], event["detail-type"]) == ("imgflow", "Image Processed")
    record = service.catalog.get(outcome.image_id)
    assert event["detail"]["image_id"] == record.image_id
    assert event["detail"]["generation"] == record.generation
    assert {r["key"] for r in event["detail"]["renditions"]} == {r.key for r in record.renditions}
    detail = event["detail"]
    assert (detail["tags"], detail["alt"], detail["metadata"]) == (["Coffee", "cup"], "A cup", {"sku": "C-9"})
    service.background.join()
    assert service.catalog.get(outcome.image_id).event_pending is None


def test_a_failing_receiver_is_retried_with_backoff(tmp_path: Path, corpus: Path) -> None:
    receiver = Receiver(fail_first=2)
    try:
        service = _service(tmp_path, receiver.url)
        outcome = _process(service, (corpus / PHOTO).read_bytes())
        receiver.wait(1)
        service.background.join()
        assert receiver.fail_first == 0
        assert len(receiver.got) == 1
        assert service.catalog.get(outcome.image_id).event_pending is None
    finally:
        receiver.close()


def test_a_receiver_down_loses_nothing_the_sweep_resends(tmp_path: Path, corpus: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens there
    service = _service(tmp_path, down, background=False)
    service.publisher.backoff = 0.01
    bad = service.ingest("local", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x13\x37" * 400, filename="x.jpg")
    failed = service.handle_object_created(original_key(bad.image_id))
    assert failed.kind == "failed"
    assert service.catalog.get(bad.image_id).event_pending == "failed"

    receiver = Receiver()
    try:
        sweep = _service(tmp_path, receiver.url, background=False)
        report = sweep.reconcile()
        assert report.published == [bad.image_id]
        receiver.wait(1)
        event = json.loads(receiver.got[0][1])
        assert event["detail-type"] == "Image Failed"
        assert event["detail"]["error"]["code"] == failed.record.error.code
        assert sweep.catalog.get(bad.image_id).event_pending is None
        assert sweep.reconcile().published == []
    finally:
        receiver.close()
