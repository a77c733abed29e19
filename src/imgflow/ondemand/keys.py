"""The on-demand keys as a Secrets Manager secret holds them."""

from __future__ import annotations

import json

from imgflow.errors import ConfigError

MIN_KEY_LENGTH = 16


def parse_secret(text: str) -> list[bytes]:
    """A JSON list of keys (``["new", "old"]``), a JSON object with ``keys``, or keys joined by ","."""
    keys: list[str]
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict):
        value = value.get("keys")
    if isinstance(value, str):
        keys = [k.strip() for k in value.split(",")]
    elif isinstance(value, list) and all(isinstance(k, str) for k in value):
        keys = [k.strip() for k in value]
    else:
        raise ConfigError("the on-demand keys secret is not a list of keys")
    keys = [k for k in keys if k]
    if not keys or any(len(k) < MIN_KEY_LENGTH for k in keys):
        raise ConfigError(f"the on-demand keys secret needs keys of at least {MIN_KEY_LENGTH} characters")
    return [k.encode() for k in keys]
