"""What ``imgflow process`` works on: the input files (folders walked for images), the output
folder of each (never shared by two inputs), and the job one worker process runs per file."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer

from imgflow.recipes import Limits, Recipe


def _kind(path: Path) -> str | None:
    """The format imgflow reads from this file's first bytes, or None (not one it reads)."""
    from imgflow.sniff import SNIFF_BYTES, sniff

    try:
        with path.open("rb") as f:
            return sniff(f.read(SNIFF_BYTES))
    except OSError:
        return None


def collect(paths: Iterable[Path], accept: Iterable[str]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files named, and the images under the folders named (recursively, hidden ones skipped), in
    order and each once; and the files of those folders that were left out, with why. A folder's
    files are picked by their first bytes (a format in ``accept``), whatever their extension (an ``.mpo`` is a JPEG, an
    ``.avifs`` an AVIF); a file named on the command line is always tried, and a path that does
    not exist is kept: processing it reports the problem."""
    accepted = set(accept)
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        for p in sorted(path.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(path).parts):
                continue
            kind = _kind(p)
            if kind is None:
                skipped.append((p, "not an image format imgflow recognises (by its first bytes)"))
            elif kind not in accepted:
                skipped.append((p, f"{kind.upper()}: not a format accepted here (limits.accept)"))
            else:
                found.append(p)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values()), skipped


def say_skipped(skipped: list[tuple[Path, str]], verbose: bool) -> None:
    """Nothing is skipped in silence: a count on stderr, each file with ``--verbose``."""
    count = len(skipped)
    if not count:
        return
    if verbose:
        for path, why in skipped:
            typer.echo(f"imgflow: skipped {path}: {why}", err=True)
    else:
        typer.echo(
            f"imgflow: skipped {count} file{'s' if count != 1 else ''} of the folders that "
            "are not images accepted here (--verbose names them)",
            err=True,
        )


def output_folders(files: list[Path], out: Path) -> dict[Path, Path]:
    """``out/<stem>`` for each file when the stems differ; otherwise ``out/`` + the path relative to
    the files' common parent folder, without the extension (``a/pic.png`` -> ``out/a/pic``); files that
    would still share a folder (``pic.png`` next to ``pic.jpg``) keep their extension (``out/pic_png``)."""
    stems = [f.stem for f in files]
    if len(set(stems)) == len(stems):
        return {f: out / f.stem for f in files}
    resolved = {f: f.resolve() for f in files}
    common = Path(os.path.commonpath([str(r.parent) for r in resolved.values()]))
    relative = {f: r.relative_to(common).with_suffix("") for f, r in resolved.items()}
    counts: dict[Path, int] = {}
    for rel in relative.values():
        counts[rel] = counts.get(rel, 0) + 1
    return {
        f: out / (rel if counts[rel] == 1 else rel.with_name(f"{rel.name}_{f.suffix.lstrip('.').lower()}"))
        for f, rel in relative.items()
    }


def process_one(path: Path, folder: Path, recipe: Recipe, limits: Limits, write_facts: bool) -> dict[str, Any]:
    """Process one file into ``folder``: a report row (``ok``, sizes, time, facts or the error)."""
    from imgflow.errors import ImgflowError
    from imgflow.processing import process_image

    started = time.perf_counter()
    row: dict[str, Any] = {"file": str(path), "out": str(folder), "ok": False, "input_bytes": 0, "output_bytes": 0}
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder", str(path))
        data = path.read_bytes()
        row["input_bytes"] = len(data)
        result = process_image(data, recipe, limits)
        folder.mkdir(parents=True, exist_ok=True)
        for rendered in result.renditions:
            (folder / f"{rendered.facts.name}.{rendered.facts.extension}").write_bytes(rendered.data)
        facts = {
            "image": result.facts.model_dump(mode="json"),
            "renditions": [r.facts.model_dump(mode="json") for r in result.renditions],
        }
        if write_facts:
            (folder / "facts.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
        row.update(ok=True, output_bytes=sum(r.facts.bytes for r in result.renditions), facts=facts)
    except ImgflowError as exc:
        row.update(error=exc.code, reason=exc.message)
    except OSError as exc:
        row.update(error="unreadable", reason=f"cannot read or write the file: {exc.strerror or exc}")
    row["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return row


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
