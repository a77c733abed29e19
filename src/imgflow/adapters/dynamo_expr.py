"""DynamoDB expressions: placeholders for every name and value, and an Expect as a condition."""

from __future__ import annotations

from typing import Any

from imgflow.ports import Expect


class Expression:
    """Collects ``#n`` / ``:v`` placeholders (every attribute name goes through one: many are reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        placeholder = self._by_name.get(attribute)
        if placeholder is None:
            placeholder = self._by_name[attribute] = f"#n{len(self._by_name)}"
            self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder


def condition_for(expect: Expect, expr: Expression) -> str:
    """``attribute_exists(image_id) AND (status IN (...) OR (status = processing AND lease_expires_at
    < before)) [AND lease_token = t] [AND version = v] [AND extra...]``, as in :mod:`catalog_rules`."""
    status = expr.name("status")
    states = sorted(set(expect.states))
    alternatives: list[str] = []
    if states:
        alternatives.append(f"{status} IN ({', '.join(expr.value(s) for s in states)})")
    if expect.lease_expired_before is not None:
        lease = expr.name("lease_expires_at")
        alternatives.append(
            f"({status} = {expr.value('processing')} AND {lease} < {expr.value(expect.lease_expired_before)})"
        )
    image_id = expr.name("image_id")
    parts = [f"attribute_exists({image_id})"]
    # no allowed state at all: a condition that can never hold
    parts.append("(" + " OR ".join(alternatives) + ")" if alternatives else f"attribute_not_exists({image_id})")
    if expect.lease_token is not None:
        parts.append(f"{expr.name('lease_token')} = {expr.value(expect.lease_token)}")
    if expect.version is not None:
        parts.append(f"{expr.name('version')} = {expr.value(expect.version)}")
    return " AND ".join(parts)
