"""The processor applies the service's retry delay to a message it reports as failed
(ChangeMessageVisibility), instead of leaving it to the queue's visibility timeout (6 x the
function's timeout). Outcomes only: the message is back long before that timeout would end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from imgflow.ports import Expect

from .conftest import Deployed

pytestmark = [pytest.mark.moto, pytest.mark.slow]


def test_a_message_that_met_a_live_lease_comes_back_when_the_lease_ends(deployed: Deployed, corpus: Path) -> None:
    d = deployed
    d.drain()
    data = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    image_id = d.upload(data, "image/jpeg", filename="hopper.jpg")
    messages = [m for m in d.receive(expect=1) if "Records" in json.loads(m["Body"])]
    assert len(messages) == 1
    # another processor holds the record for one more second
    d.service.catalog.transition(
        image_id,
        Expect(states={"awaiting_upload", "queued"}),
        {"status": "processing", "lease_token": "other", "lease_expires_at": time.time() + 1.0, "attempts": 1},
    )
    result = d.deliver(messages)
    assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert not d.guard.violations

    # the queue's visibility timeout is minutes; the service asked for about a second
    again = d.receive(expect=1, tries=30)
    assert [m["MessageId"] for m in again] == [messages[0]["MessageId"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert d.deliver(again) == {"batchItemFailures": []}
    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert (status, view["status"]) == (200, "done")
    assert not d.guard.violations
