"""The rules of the user's own fields (tags, alt, metadata) and of a merge patch on them."""

from __future__ import annotations

from typing import Any

import pytest

from imgflow.errors import InvalidField
from imgflow.usermeta import UserMeta, clean, clean_alt, clean_tags, merge_patch, query_metadata, split_tags


def _field(call: Any, *args: Any) -> str:
    with pytest.raises(InvalidField) as info:
        call(*args)
    assert info.value.http_status == 422
    return info.value.field


def test_tags_are_trimmed_deduplicated_case_insensitively_kept_as_first_given() -> None:
    assert clean_tags([" Beach ", "beach", "BEACH", "Dogs", "dogs "]) == ("Beach", "Dogs")
    assert split_tags("a, b,,A ,c") == ("a", "b", "c")
    assert clean_tags(["x" * 64]) == ("x" * 64,)
    assert clean_tags([f"t{i}" for i in range(50)] + ["T0"]) == tuple(f"t{i}" for i in range(50))  # 50 after dedupe
    assert clean_tags(["Straße", "STRASSE"]) == ("Straße",)  # casefold, not lower


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([f"t{i}" for i in range(51)], "tags"),
        (["x" * 65], "tags[0]"),
        (["ok", "   "], "tags[1]"),
        (["a,b"], "tags[0]"),
        (["tab\there"], "tags[0]"),
        (["zero\u200bwidth"], "tags[0]"),
        ("beach", "tags"),
        ([None], "tags[0]"),
        (5, "tags"),
    ],
)
def test_bad_tags_name_the_field(value: Any, field: str) -> None:
    assert _field(clean_tags, value) == field


def test_alt_rules() -> None:
    assert clean_alt("  A dog.\nOn sand. ") == "A dog.\nOn sand."
    assert clean_alt("   ") is None
    assert clean_alt(None) is None
    assert clean_alt("a" * 1000) == "a" * 1000
    assert _field(clean_alt, "a" * 1001) == "alt"
    assert _field(clean_alt, "bell\x07") == "alt"
    assert _field(clean_alt, ["x"]) == "alt"


def test_metadata_rules() -> None:
    assert clean(metadata={"sku": "A-1", "a.b_c-9": ""}).metadata == {"sku": "A-1", "a.b_c-9": ""}
    assert clean(metadata={"k" * 64: "v" * 1024}).metadata == {"k" * 64: "v" * 1024}
    assert _field(clean, None, None, {f"k{i}": "v" for i in range(51)}) == "metadata"
    assert _field(clean, None, None, {"": "v"}) == "metadata"
    assert _field(clean, None, None, {"k/1": "v"}) == "metadata"
    assert _field(clean, None, None, {"k": "v" * 1025}) == "metadata.k"
    assert _field(clean, None, None, {"k": 1}) == "metadata.k"
    assert _field(clean, None, None, {"k": "line\nbreak"}) == "metadata.k"
    assert query_metadata([("metadata.a", "1"), ("tags", "x"), ("metadata.a", "2")]) == {"a": "2"}


def test_merge_patch_per_rfc_7396() -> None:
    now = UserMeta(tags=("a", "b"), alt="old", metadata={"k1": "1", "k2": "2"})
    assert merge_patch(now, {}) == now
    assert merge_patch(now, {"tags": ["C"]}).tags == ("C",)
    assert merge_patch(now, {"tags": None}).tags == ()
    assert merge_patch(now, {"alt": None}).alt is None
    assert merge_patch(now, {"metadata": {"k1": None, "k3": "3"}}).metadata == {"k2": "2", "k3": "3"}
    assert merge_patch(now, {"metadata": None}).metadata == {}
    assert merge_patch(now, {"metadata": {"gone": None}}).metadata == now.metadata
    full = UserMeta(metadata={f"k{i}": "v" for i in range(50)})
    assert _field(merge_patch, full, {"metadata": {"one_more": "v"}}) == "metadata"
    assert len(merge_patch(full, {"metadata": {"k0": None, "new": "v"}}).metadata) == 50
    assert _field(merge_patch, now, {"version": 3}) == "version"
    assert _field(merge_patch, now, ["tags"]) == "body"
    assert _field(merge_patch, now, {"metadata": "k=v"}) == "metadata"
