"""Fixtures shared by every tier: the corpus, free ports, moto server and PostgreSQL on loopback."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgkit import PgServer, running_postgres
from testkit import CORPUS, Clock, free_port, running, wait_http
from weedkit import Weed, running_weed

#: event loops set on the main thread (Mangum sets one per adapter, as it does in a Lambda
#: container); held here so that a later ``asyncio.run`` dropping the policy's reference does
#: not leave them to the garbage collector unclosed, and closed when the session ends
_LOOPS: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(autouse=True)
def _hold_event_loops() -> Iterator[None]:
    yield
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and loop not in _LOOPS:
        _LOOPS.append(loop)


@pytest.fixture(scope="session", autouse=True)
def _close_event_loops() -> Iterator[None]:
    yield
    for loop in _LOOPS:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


__all__ = ["CORPUS", "Clock", "free_port", "wait_http"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.md").exists():
        pytest.skip(f"the test corpus is absent at {CORPUS} (set IMGFLOW_CORPUS)")
    return CORPUS


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto server on 127.0.0.1, a random port, for the whole session. Real HTTP, real boto3."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe is None:
        pytest.fail("moto_server is not installed (make setup installs moto[server])")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    url = f"http://127.0.0.1:{port}"
    with running([exe, "-H", "127.0.0.1", "-p", str(port)], log, f"{url}/moto-api/"):
        yield url


@pytest.fixture(scope="session")
def aws_env(moto_endpoint: str) -> dict[str, str]:
    """Fake credentials for moto; boto3 clients are built with endpoint_url=moto_endpoint."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def weed_server() -> Iterator[Weed]:
    """SeaweedFS (``weed mini``) on 127.0.0.1 for the whole session: an S3-compatible store that
    checks signatures and presigned POST policies (see tests/weedkit.py)."""
    with running_weed() as weed:
        yield weed


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """Debian's PostgreSQL 15 on 127.0.0.1, a free port, for the whole session (see tests/pgkit.py).
    A fault test may ``stop()`` / ``start()`` it: it must leave it running."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """The server's admin URL (database ``postgres``); tests take a database of their own with ``pg_database``."""
    return pg_server.url()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it: its URL."""
    with pg_server.database() as url:
        yield url
