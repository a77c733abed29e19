"""Image events on an EventBridge bus (the account's default bus unless one is named).

One ``PutEvents`` entry per event: ``Source`` ``imgflow``, ``DetailType`` ``Image Processed`` /
``Image Failed``, ``Detail`` the JSON detail. boto3's standard retry mode retries throttling and
transient errors; an entry EventBridge refuses (``FailedEntryCount``) is tried again a few
times, then StorageError: the record's event stays pending and the reconcile sweep resends it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from imgflow.errors import StorageError
from imgflow.ports import ImageEvent

#: EventBridge refuses a Detail over 256 KB; an image's detail is a few KB
_TRIES = 3


class EventBridgePublisher:
    #: per method, the IAM actions the role running it needs (on the bus's ARN)
    IAM_ACTIONS: Mapping[str, tuple[str, ...]] = {"publish": ("events:PutEvents",)}
    #: every botocore operation this adapter calls -> the IAM actions it needs
    BOTO_OPERATIONS: Mapping[str, tuple[str, ...]] = {"PutEvents": ("events:PutEvents",)}

    def __init__(self, client: Any, bus_name: str = "default") -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(self, event: ImageEvent) -> None:
        entry = {
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
            "EventBusName": self.bus_name,
        }
        reason = ""
        for _ in range(_TRIES):
            try:
                resp = self.client.put_events(Entries=[entry])
            except (ClientError, BotoCoreError) as exc:
                code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
                raise StorageError(f"EventBridge {code or type(exc).__name__} on bus {self.bus_name}: {exc}") from exc
            if not resp.get("FailedEntryCount"):
                return
            failed = resp.get("Entries", [{}])[0]
            reason = f"{failed.get('ErrorCode', '')}: {failed.get('ErrorMessage', '')}"
        raise StorageError(f"EventBridge refused the event on bus {self.bus_name} ({reason})")
