"""What every catalog means by a condition, a change, a page and a stale record.

The in-memory and SQLite catalogs evaluate these in Python; the DynamoDB catalog
turns the same rules into condition expressions. The contract suite checks they agree.

Condition (:class:`Expect`): ``(status in states OR (lease_expired_before given AND
status == processing AND lease_expires_at < lease_expired_before)) AND lease_token ==
expect.lease_token (if given) AND version == expect.version (if given) AND every
``extra`` field equals its value (None: the field is absent)``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from imgflow.errors import BadRequest
from imgflow.ports import Expect
from imgflow.records import ImageRecord
from imgflow.usermeta import tag_key

#: fields a transition may not change (the catalog owns ``version``)
FROZEN_FIELDS = frozenset({"image_id", "version"})
MAX_LIMIT = 1000
_MAX_CURSOR_ID = 512
#: year 5138: no record is created later; keeps a cursor's time a plain, finite number
_MAX_EPOCH = 1e11
_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?")


def matches(record: ImageRecord, expect: Expect) -> bool:
    state_ok = record.status in expect.states
    if not state_ok and expect.lease_expired_before is not None:
        state_ok = (
            record.status == "processing"
            and record.lease_expires_at is not None
            and record.lease_expires_at < expect.lease_expired_before
        )
    if not state_ok:
        return False
    if expect.lease_token is not None and record.lease_token != expect.lease_token:
        return False
    return expect.version is None or record.version == expect.version


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = ImageRecord.model_fields.get(name)
    if field is None:
        raise ValueError(f"ImageRecord has no field {name!r}")
    return TypeAdapter(field.annotation)


def json_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    adapter = _adapter(name)
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except ValidationError as exc:
        raise ValueError(f"bad value for {name}: {exc}") from exc


def normalize_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Changes as JSON-able values (None: remove the field); validated per field."""
    bad = FROZEN_FIELDS.intersection(changes)
    if bad:
        raise ValueError(f"a transition cannot change {sorted(bad)}")
    return {name: json_value(name, value) for name, value in changes.items()}


def apply_changes(record: ImageRecord, changes: Mapping[str, Any], now: float) -> ImageRecord:
    """The record as a transition writes it: changes applied, version + 1, updated_at = now unless given."""
    item = record.to_item()
    for name, value in normalize_changes(changes).items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    item["version"] = record.version + 1
    if changes.get("updated_at") is None:
        item["updated_at"] = now
    return ImageRecord.from_item(item)


def is_stale(record: ImageRecord, now: float, older_than: float) -> bool:
    if record.status == "processing":
        return record.lease_expires_at is not None and record.lease_expires_at < now
    return record.status in ("awaiting_upload", "queued") and record.updated_at < older_than


def event_pending(record: ImageRecord) -> bool:
    """Its end is written and its event not yet out (a record that moved on waits for its next end)."""
    return record.event_pending is not None and record.event_pending == record.status


def tag_keys(tags: Collection[str]) -> list[str]:
    """The forms a catalog indexes and filters on: case-folded, trimmed, each once, sorted."""
    return sorted({tag_key(t) for t in tags})


def has_tags(record: ImageRecord, wanted: Collection[str]) -> bool:
    """Whether ``record`` carries every tag of ``wanted`` (case-insensitively)."""
    have = {tag_key(t) for t in record.tags}
    return all(tag_key(t) in have for t in wanted)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def newest_first(record: ImageRecord) -> tuple[float, str]:
    """Sort key for listings (reverse=True): created_at, then image_id, descending."""
    return (record.created_at, record.image_id)


def encode_cursor(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> BadRequest:
    return BadRequest("invalid cursor: pass back the `cursor` of the previous page unchanged", code="invalid_cursor")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """A cursor is the client's input: anything but one we made is a 400 ``invalid_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(data, dict):
        raise invalid_cursor()
    return data


def cursor_id(value: Any) -> str:
    """An image id from a cursor: text a store can hold (no lone surrogate), at most 512 bytes."""
    if not isinstance(value, str) or not value or not value.isprintable():
        raise invalid_cursor()
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise invalid_cursor() from exc
    if size > _MAX_CURSOR_ID:
        raise invalid_cursor()
    return value


def cursor_time(value: Any) -> float:
    """A ``created_at`` from a cursor: a finite epoch time (a JSON number, or its decimal text)."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise invalid_cursor()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_cursor()
    try:
        number = float(value)
    except (ValueError, OverflowError) as exc:  # a 400-digit integer does not fit a float
        raise invalid_cursor() from exc
    if not 0 <= number < _MAX_EPOCH:  # NaN and infinities fail here too
        raise invalid_cursor()
    return number


def position_cursor(owner: str, record: ImageRecord) -> str:
    """Cursor for the in-memory and SQLite catalogs: the last record's sort position."""
    return encode_cursor({"o": owner, "c": record.created_at, "i": record.image_id})


def read_position(owner: str, cursor: str) -> tuple[float, str]:
    data = decode_cursor(cursor)
    if data.get("o") != owner:
        raise invalid_cursor()
    return cursor_time(data.get("c")), cursor_id(data.get("i"))
