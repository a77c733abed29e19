"""A list cursor is the client's input: whatever is crafted into it is a 400, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from api_kit import Wiring, png
from test_routes import problem

from imgflow.adapters.catalog_rules import decode_cursor
from imgflow.errors import BadRequest


def _cursor(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NOW = 1_735_689_600.0
CRAFTED = {
    "huge integer time": {"o": "local", "c": 10**400, "i": "01J0000000000000000000000A"},
    "infinite time": _cursor(b'{"o":"local","c":1e999,"i":"x"}'),
    "negative time": {"o": "local", "c": -1, "i": "x"},
    "boolean time": {"o": "local", "c": True, "i": "x"},
    "lone surrogate id": {"o": "local", "c": NOW, "i": "\ud800"},
    "empty id": {"o": "local", "c": NOW, "i": ""},
    "id over 512 bytes": _cursor(('{"o":"local","c":1.0,"i":"' + "\u00e9" * 300 + '"}').encode()),
    "dynamo key, lone surrogate": {"o": "local", "k": {"image_id": "\udfff", "created_at": "1.5"}},
    "dynamo key, huge number": {"o": "local", "k": {"image_id": "x", "created_at": "9" * 400}},
    "dynamo key, NaN": {"o": "local", "k": {"image_id": "x", "created_at": "NaN"}},
    "dynamo key, exponent": {"o": "local", "k": {"image_id": "x", "created_at": "1e999999"}},
    "a list": [1, 2, 3],
    "garbage": "%%%\u00e9\u00e9",
    "not base64 JSON": "bm90IGpzb24",
}


@pytest.mark.parametrize("crafted", CRAFTED.values(), ids=CRAFTED.keys())
def test_a_crafted_cursor_is_a_400(api: Wiring, crafted: Any) -> None:
    cursor = crafted if isinstance(crafted, str) else _cursor(crafted)
    assert len(cursor) <= 2048  # under the route's own cap on the parameter: the cursor itself is refused
    problem(api.client.get("/v1/images", params={"cursor": cursor}), 400, "invalid_cursor")


def test_a_real_cursor_still_pages(api: Wiring) -> None:
    for _ in range(3):
        assert api.client.post("/v1/images", content=png()).status_code == 202
    first = api.client.get("/v1/images", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["cursor"]
    second = api.client.get("/v1/images", params={"limit": 2, "cursor": first["cursor"]}).json()
    assert len(second["items"]) == 1
    assert second["cursor"] is None
    assert {i["image_id"] for i in first["items"]}.isdisjoint(i["image_id"] for i in second["items"])


def test_a_cursor_nested_past_the_recursion_limit_is_invalid() -> None:
    with pytest.raises(BadRequest) as caught:
        decode_cursor(_cursor(b"[" * 5000 + b"]" * 5000))
    assert caught.value.code == "invalid_cursor"
