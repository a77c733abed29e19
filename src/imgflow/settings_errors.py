"""Settings errors as sentences that name the field and where its value came from: the config
file, the environment (by its ``IMGFLOW_*`` variable) or the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

ENV_PREFIX = "IMGFLOW_"
NEEDS_DATABASE_URL = (
    "backend: cluster needs database_url: postgresql://user:password@host:5432/dbname (IMGFLOW_DATABASE_URL)"
)


def _holds(data: Any, loc: tuple[int | str, ...]) -> bool:
    for part in loc:
        indexable = isinstance(data, list | tuple) and isinstance(part, int) and part < len(data)
        if not (indexable or (isinstance(data, Mapping) and part in data)):
            return False
        data = data[part]
    return True


def _source_of(loc: tuple[int | str, ...], layers: list[tuple[str, dict[str, Any]]]) -> str:
    """The layer that gave the value at ``loc``: the one holding the deepest part of it, the later on a tie."""
    for depth in range(len(loc), 0, -1):
        for name, data in reversed(layers):
            if _holds(data, loc[:depth]):
                return str(name)
    return "the defaults"


def _env_name(loc: tuple[int | str, ...], environ: Mapping[str, str]) -> str:
    names = {k.upper() for k in environ}
    for end in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(p) for p in loc[:end]).upper()
        if name in names:
            return name
    return ENV_PREFIX + str(loc[0]).upper()


def describe(exc: ValidationError, layers: list[tuple[str, dict[str, Any]]], environ: Mapping[str, str]) -> str:
    """One sentence per problem, naming the field and the source (file, environment, command line)."""
    seen: dict[str, None] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc:
            seen[f"Invalid settings: {msg}."] = None
            continue
        where = ".".join(str(p) for p in loc)
        source = _source_of(loc, layers)
        if source == "the environment":
            where = f"{_env_name(loc, environ)} ({where})"
        seen[f"Invalid setting in {source}: {where}: {msg}."] = None
    return " ".join(seen)
