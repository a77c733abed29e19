"""Outcomes are one vocabulary: the service and the runtimes name a kind or a reason through
``Kind`` / ``Reason`` (or a named error's ``code``), never a string written at the spot."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from imgflow.service import Kind, Outcome, Reason

SRC = Path(__file__).resolve().parents[2] / "src" / "imgflow"
#: where outcomes are made and read
PACKAGES = ("service", "runtimes", "api", "cli")
FIELDS = {"kind", "reason"}
WORDS = {m.value for m in [*Kind, *Reason]}


def _literal(node: ast.AST, words: set[str] | None = None) -> bool:
    """A string constant (one of ``words``, when given), alone or in a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return words is None or node.value in words
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and any(_literal(e, words) for e in node.elts)


def _spots(tree: ast.AST) -> list[int]:
    """Lines that compare ``x.kind`` / ``x.reason`` with an outcome's word written as a string (an
    S3 event's ``kind`` is another vocabulary), or build an Outcome from strings."""
    found = []
    for node in ast.walk(tree):
        compared = isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr in FIELDS
        if compared and any(_literal(c, WORDS) for c in node.comparators):  # type: ignore[attr-defined]
            found.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Outcome":
            given = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in FIELDS]
            if any(_literal(v) for v in given):
                found.append(node.lineno)
    return found


def test_no_outcome_is_named_by_a_string_literal() -> None:
    files = [p for pkg in PACKAGES for p in sorted((SRC / pkg).rglob("*.py"))]
    assert len(files) > 20
    bad = {str(p.relative_to(SRC)): lines for p in files if (lines := _spots(ast.parse(p.read_text())))}
    assert bad == {}


def test_the_check_finds_a_string_compare() -> None:
    planted = 'if outcome.reason == "lease_held":\n    pass\nOutcome("done", "x")\nOutcome(Kind.DONE, reason="y")\n'
    assert _spots(ast.parse(planted)) == [1, 3, 4]


@pytest.mark.parametrize("member", [*Kind, *Reason])
def test_members_are_their_own_strings_in_logs_and_json(member: Kind | Reason) -> None:
    assert f"{member}" == member.value == member
    assert Outcome(Kind.FAILED, reason=member).reason == member.value
