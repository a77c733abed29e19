"""The user's own facts about an image: tags, alt text and a flat key-value map.

Pure rules, no storage: what a value must be, how tags compare (trimmed, case-insensitively,
kept as first given), and how an RFC 7396 merge patch changes them. Every refusal is an
:class:`~imgflow.errors.InvalidField` naming the field, so an API answers 422 with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imgflow.errors import InvalidField

MAX_TAGS = 50
MAX_TAG_CHARS = 64
MAX_ALT_CHARS = 1000
MAX_META_KEYS = 50
MAX_META_KEY_CHARS = 64
MAX_META_VALUE_CHARS = 1024
META_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: the fields a patch may name
PATCHABLE = ("tags", "alt", "metadata")


@dataclass(frozen=True)
class UserMeta:
    """Clean values, ready for a record."""

    tags: tuple[str, ...] = ()
    alt: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def changes(self) -> dict[str, Any]:
        """As catalog changes (None and empty remove the field)."""
        return {"tags": list(self.tags) or None, "alt": self.alt, "metadata": dict(self.metadata) or None}


def tag_key(tag: str) -> str:
    """How tags compare: trimmed, case-folded (``Beach`` and ``beach `` are one tag)."""
    return tag.strip().casefold()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text)


def clean_tag(value: Any, name: str = "tags") -> str:
    if not isinstance(value, str):
        raise InvalidField(name, f"a tag is a string, not {type(value).__name__}")
    tag = value.strip()
    if not 1 <= len(tag) <= MAX_TAG_CHARS:
        raise InvalidField(name, f"a tag has 1 to {MAX_TAG_CHARS} characters (this one has {len(tag)})")
    if not tag.isprintable() or _has_control(tag):
        raise InvalidField(name, "a tag may not hold control characters")
    if "," in tag:
        raise InvalidField(name, "a tag may not hold a comma (commas separate tags in ?tags=)")
    return tag


def clean_tags(values: Any, name: str = "tags") -> tuple[str, ...]:
    """A list of tags: each cleaned, duplicates (case-insensitive) dropped, at most 50."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidField(name, "tags are a list of strings")
    seen: dict[str, str] = {}
    for i, value in enumerate(values):
        tag = clean_tag(value, f"{name}[{i}]")
        seen.setdefault(tag_key(tag), tag)
    if len(seen) > MAX_TAGS:
        raise InvalidField(name, f"an image has at most {MAX_TAGS} tags ({len(seen)} given)")
    return tuple(seen.values())


def split_tags(text: str, name: str = "tags") -> tuple[str, ...]:
    """``?tags=a,b``: comma-separated; empty parts are skipped."""
    return clean_tags([part for part in text.split(",") if part.strip()], name)


def clean_alt(value: Any, name: str = "alt") -> str | None:
    """Alt text up to 1,000 characters; null or blank clears it. Line breaks are allowed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField(name, f"alt is a string or null, not {type(value).__name__}")
    alt = value.strip()
    if len(alt) > MAX_ALT_CHARS:
        raise InvalidField(name, f"alt has at most {MAX_ALT_CHARS} characters ({len(alt)} given)")
    if _has_control(alt.replace("\n", " ").replace("\t", " ")):
        raise InvalidField(name, "alt may not hold control characters")
    return alt or None


def clean_meta_key(key: Any, name: str = "metadata") -> str:
    if not isinstance(key, str) or not META_KEY.fullmatch(key):
        raise InvalidField(name, f"a metadata key has 1 to {MAX_META_KEY_CHARS} characters of A-Z a-z 0-9 _ . -")
    return key


def clean_meta_value(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidField(name, f"a metadata value is a string, not {type(value).__name__}")
    if len(value) > MAX_META_VALUE_CHARS:
        raise InvalidField(name, f"a metadata value has at most {MAX_META_VALUE_CHARS} characters ({len(value)} given)")
    if _has_control(value):
        raise InvalidField(name, "a metadata value may not hold control characters")
    return value


def _check_count(metadata: Mapping[str, str], name: str) -> None:
    if len(metadata) > MAX_META_KEYS:
        raise InvalidField(name, f"an image has at most {MAX_META_KEYS} metadata keys ({len(metadata)} given)")


def clean_metadata(values: Any, name: str = "metadata") -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidField(name, "metadata is an object of string values")
    clean = {clean_meta_key(k, name): clean_meta_value(v, f"{name}.{k}") for k, v in values.items()}
    _check_count(clean, name)
    return clean


def clean(tags: Any = None, alt: Any = None, metadata: Any = None) -> UserMeta:
    """Values given at upload (None: not given)."""
    return UserMeta(
        tags=() if tags is None else clean_tags(tags),
        alt=clean_alt(alt),
        metadata=clean_metadata(metadata),
    )


def merge_patch(current: UserMeta, patch: Any) -> UserMeta:
    """RFC 7396 on the three fields: ``tags`` replaced (null clears), ``alt`` set or cleared,
    ``metadata`` merged key by key (a null value removes the key; null removes them all)."""
    if not isinstance(patch, Mapping):
        raise InvalidField("body", "a patch is a JSON object")
    unknown = sorted(set(patch) - set(PATCHABLE))
    if unknown:
        raise InvalidField(unknown[0], f"only {', '.join(PATCHABLE)} can be changed")
    tags = current.tags
    if "tags" in patch:
        tags = () if patch["tags"] is None else clean_tags(patch["tags"])
    alt = clean_alt(patch["alt"]) if "alt" in patch else current.alt
    metadata = dict(current.metadata)
    if "metadata" in patch:
        update = patch["metadata"]
        if update is None:
            metadata = {}
        elif not isinstance(update, Mapping):
            raise InvalidField("metadata", "metadata is an object (a null value removes a key)")
        else:
            for key, value in update.items():
                clean_meta_key(key)
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = clean_meta_value(value, f"metadata.{key}")
        _check_count(metadata, "metadata")
    return UserMeta(tags=tags, alt=alt, metadata=metadata)


def query_metadata(params: Iterable[tuple[str, str]], prefix: str = "metadata.") -> dict[str, str]:
    """``metadata.KEY=VALUE`` query parameters as a map (a repeated key: the last wins)."""
    found = {k[len(prefix) :]: v for k, v in params if k.startswith(prefix)}
    return clean_metadata(found)
