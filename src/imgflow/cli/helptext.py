"""``--help`` that reads naturally: ``imgflow process [OPTIONS] PATH...``, no ``<bool>`` beside a flag,
no ``{files}`` placeholder or ``<list[Path]>`` beside an argument (its metavar says what it is)."""

from __future__ import annotations

from typing import Any

import typer.core


def _plain(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # a flag takes no value: show none
        elif isinstance(param, typer.core.TyperOption) and param.metavar is None and param.name:
            param.metavar = param.name.upper()  # --recipe RECIPE, not --recipe <str>
        elif isinstance(param, typer.core.TyperArgument) and param.metavar is not None:
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    return params


def _usage(command: typer.core.TyperCommand, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, typer.core.TyperArgument):
            name = param.metavar or param.name.upper() + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def summary(help_text: str | None) -> str:
    """A command's line in ``imgflow --help``: its help's first sentence, whole (click cuts it at ~45
    characters with "..."; the formatter wraps a long one instead)."""
    paragraph = " ".join((help_text or "").strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


class Command(typer.core.TyperCommand):
    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or summary(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)


class Group(typer.core.TyperGroup):
    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or summary(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))
