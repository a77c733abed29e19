"""The CLI's exit codes and the one place that turns errors into them.

Every command either finishes (0: all inputs ok; 1: some input failed, the rest went
through) or stops with one line on stderr and exit code 2 (bad usage, configuration,
server address, connection or HTTP trouble). Wrap a command with :func:`handles_errors`
(or a block with :func:`cli_errors`); raise :class:`CliError` for a problem of your own.
No traceback reaches the user; nothing here imports httpx or the image engine.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, ParamSpec, TypeVar
from urllib.parse import urlsplit

import typer

from imgflow.errors import ImgflowError

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")


class CliError(ImgflowError):
    """A usage, configuration or connection problem: one line, exit 2."""

    code = "cli_error"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``imgflow: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"imgflow: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def check_server_url(server: str) -> str:
    """The server's base URL, or a CliError saying how to write one (``127.0.0.1:8080`` has no scheme)."""
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(
            f"{_named('server', '--server', 'IMGFLOW_SERVER')} {server!r} is not a URL: write it with its scheme, "
            "e.g. http://127.0.0.1:8080 or https://api.example.com."
        )
    return server.rstrip("/")


def _named(param: str, option: str, variable: str) -> str:
    """How the user gave a value: the option's name, or the environment variable's when it came from there."""
    # Typer 0.2x carries its own copy of click (typer._click); older ones use click itself
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - typer < 0.2x
        from click import get_current_context  # type: ignore[import-not-found, no-redef, unused-ignore]

    ctx = get_current_context(silent=True)
    source = ctx.get_parameter_source(param) if ctx is not None else None
    return variable if source is not None and source.name == "ENVIRONMENT" else option


def describe(exc: BaseException, server: str | None = None) -> str | None:
    """One sentence for an error a user can cause or meet, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, ImgflowError):
        return exc.message
    httpx = sys.modules.get("httpx")  # only loaded when a command talks HTTP
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        where = server or "the server"
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return f"{where!r} is not a URL imgflow can reach: {exc}."
        if isinstance(exc, httpx.TimeoutException):
            return f"{where} did not answer in time ({type(exc).__name__})."
        if isinstance(exc, httpx.ConnectError):
            reason = str(exc) or "connection refused"
            return f"cannot reach {where}: {reason}. Is the server running (imgflow serve)?"
        return f"talking to {where} failed: {exc or type(exc).__name__}."
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or exc}."
    return None


@contextmanager
def cli_errors(server: str | None = None) -> Iterator[None]:
    """Inside: an ImgflowError, an httpx error or an OSError becomes one line and exit 2."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        message = describe(exc, server)
        if message is None:
            raise
        fail(message)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a Typer command: its errors become one line and exit 2 (a ``server`` argument names the server)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        server = kwargs.get("server")
        if isinstance(server, str) and _named("server", "--server", "IMGFLOW_SERVER") == "IMGFLOW_SERVER":
            server = f"{server} (IMGFLOW_SERVER)"
        with cli_errors(server if isinstance(server, str) else None):
            return command(*args, **kwargs)

    return wrapper
