"""``imgflow process FILE... --out DIR``: run the processing core on local files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer


def _fmt_bytes(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def process(
    files: Annotated[list[Path], typer.Argument(help="Images to process.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: DIR/<stem>/<name>.<ext>.")],
    recipe: Annotated[
        str | None, typer.Option("--recipe", "-r", help="Recipe name (default: the settings' default).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Settings YAML file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write <stem>/facts.json and print a JSON report.")] = False,
) -> None:
    """Make every rendition of a recipe for each FILE; a bad file fails alone (exit 1)."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from imgflow.errors import ImgflowError
    from imgflow.processing import process_image
    from imgflow.settings import load_settings

    err = Console(stderr=True)
    try:
        settings = load_settings(config)
        chosen = settings.recipe(recipe)
    except ImgflowError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    report: list[dict[str, Any]] = []
    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("processing", total=len(files))
        for path in files:
            started = time.perf_counter()
            row: dict[str, Any] = {"file": str(path), "ok": False, "input_bytes": 0, "output_bytes": 0}
            try:
                data = path.read_bytes()
                row["input_bytes"] = len(data)
                result = process_image(data, chosen, settings.limits)
                folder = out / path.stem
                folder.mkdir(parents=True, exist_ok=True)
                for rendered in result.renditions:
                    (folder / f"{rendered.facts.name}.{rendered.facts.extension}").write_bytes(rendered.data)
                facts = {
                    "image": result.facts.model_dump(mode="json"),
                    "renditions": [r.facts.model_dump(mode="json") for r in result.renditions],
                }
                if as_json:
                    (folder / "facts.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
                row.update(ok=True, output_bytes=sum(r.facts.bytes for r in result.renditions), facts=facts)
            except ImgflowError as exc:
                row.update(error=exc.code, reason=exc.message)
            except OSError as exc:
                row.update(error="unreadable", reason=f"cannot read the file: {exc.strerror or exc}")
            row["ms"] = round((time.perf_counter() - started) * 1000, 1)
            report.append(row)
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps({"recipe": chosen.name, "results": report}, indent=2))
    else:
        table = Table(title=f"imgflow process ({chosen.name})")
        for column in ("file", "result", "time ms", "input", "output"):
            table.add_column(column, overflow="fold")
        for row in report:
            result_text = "ok" if row["ok"] else f"failed {row['error']}: {row['reason']}"
            table.add_row(
                row["file"], result_text, f"{row['ms']:.0f}", _fmt_bytes(row["input_bytes"]),
                _fmt_bytes(row["output_bytes"]),
            )  # fmt: skip
        Console(width=200).print(table)
    if not all(row["ok"] for row in report):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("process")(process)
