"""``imgflow process PATH... --out DIR``: run the processing core on local files and folders."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from imgflow.cli.errors import CliError, handles_errors
from imgflow.cli.helptext import Command


def fmt_bytes(n: int) -> str:
    """Sizes as the page shows them: bytes under 1 KiB, then KiB and MiB (powers of 1,024)."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


@handles_errors
def process(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Images, or folders to search for images (recursively).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Output folder: DIR/<stem>/<name>.<ext> (see docs).")
    ],
    recipe: Annotated[
        str | None,
        typer.Option("--recipe", "-r", metavar="NAME", help="Recipe name (default: the settings' default_recipe)."),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", metavar="FILE", help="Settings YAML file.")] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", metavar="N", min=1, help="Processes at once (default: one per core).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write <stem>/facts.json and print a JSON report.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Name each file of a folder that was skipped, and why.")
    ] = False,
) -> None:
    """Make a recipe's renditions of images and folders of images.

    Runs one process per core; a bad file fails alone (exit 1), the rest are still made.
    """
    from imgflow.cli.process_files import collect, cores, output_folders, process_one, say_skipped
    from imgflow.settings import load_settings

    settings = load_settings(config)
    chosen = settings.recipe(recipe)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file, not a folder.")
    files, skipped = collect(paths, settings.limits.accept)
    if not files:
        left = f" ({len(skipped)} files that are not images accepted here)" if skipped else ""
        raise CliError(f"no images found in {', '.join(map(str, paths))}{left}.")
    folders = output_folders(files, out)
    workers = min(jobs or cores(), len(files))
    tasks = [(path, folders[path], chosen, settings.limits, as_json) for path in files]
    report: list[dict[str, Any]] = []
    if workers == 1:
        with _progress(len(tasks), "processing", shown=not as_json) as advance:
            for task in tasks:
                report.append(process_one(*task))
                advance()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # forkserver, not fork: a process that already holds threads (libvips' pool, a caller's) must not be
        # forked; the server imports the engine once and each worker is a fork of that clean process
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["imgflow.cli.process_files", "imgflow.processing"])
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(process_one, *task): n for n, task in enumerate(tasks)}
            rows: dict[int, dict[str, Any]] = {}
            with _progress(len(tasks), f"processing ({workers} processes)", shown=not as_json) as advance:
                for future in as_completed(futures):
                    n = futures[future]
                    try:
                        rows[n] = future.result()
                    except Exception as exc:  # the worker process died (out of memory, killed)
                        reason = f"the worker process died: {exc or type(exc).__name__}"
                        rows[n] = {"file": str(files[n]), "ok": False, "error": "crashed", "reason": reason}
                        rows[n].update(input_bytes=0, output_bytes=0, ms=0.0, out=str(folders[files[n]]))
                    advance()
        report = [rows[n] for n in range(len(tasks))]
    if as_json:
        passed_over = [{"file": str(p), "reason": why} for p, why in skipped]
        typer.echo(json.dumps({"recipe": chosen.name, "results": report, "skipped": passed_over}, indent=2))
    else:
        _print_report(report, chosen.name)
        say_skipped(skipped, verbose)
    if not all(row["ok"] for row in report):
        raise typer.Exit(1)


@contextmanager
def _progress(total: int, what: str, *, shown: bool) -> Iterator[Callable[[], None]]:
    """Rich's progress bar on a terminal; nothing otherwise (and Rich, ~40 ms of start-up, stays unloaded)."""
    if not (shown and sys.stderr.isatty()):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task(what, total=total)
        yield lambda: progress.advance(bar)


def _print_report(report: list[dict[str, Any]], recipe: str) -> None:
    """A Rich table on a terminal; one plain line per file (tab-separated) into a pipe or a file."""
    columns = ("file", "result", "time ms", "input", "output")
    rows = [
        (
            row["file"],
            f"ok: {row['out']}" if row["ok"] else f"failed {row['error']}: {row['reason']}",
            f"{row['ms']:.0f}",
            fmt_bytes(row["input_bytes"]),
            fmt_bytes(row["output_bytes"]),
        )
        for row in report
    ]
    rows.append(_totals(report))
    if not sys.stdout.isatty():
        typer.echo("\t".join(columns))
        for cells in rows:
            typer.echo("\t".join(cells))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"imgflow process ({recipe})")
    for column in columns:
        table.add_column(column, overflow="fold")
    for n, cells in enumerate(rows):
        table.add_row(*cells, end_section=n == len(rows) - 2)
    Console(width=200).print(table)


def _totals(report: list[dict[str, Any]]) -> tuple[str, str, str, str, str]:
    """The last row: how many files, how many made and failed, and the summed time and sizes."""
    failed = sum(not row["ok"] for row in report)
    files = len(report)
    result = f"{files - failed} ok, {failed} failed"
    return (
        f"total ({files} file{'s' if files != 1 else ''})",
        result,
        f"{sum(row['ms'] for row in report):.0f}",
        fmt_bytes(sum(row["input_bytes"] for row in report)),
        fmt_bytes(sum(row["output_bytes"] for row in report)),
    )


def register(app: typer.Typer) -> None:
    app.command("process", cls=Command)(process)
