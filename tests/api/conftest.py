"""Both wirings of the API: folder + SQLite, and S3 + DynamoDB on moto server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_kit import Wiring, aws_settings, local_settings, wire


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.moto)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Wiring]:
    if request.param == "local":
        settings = local_settings(tmp_path)
    else:
        request.getfixturevalue("aws_env")
        settings = aws_settings(request.getfixturevalue("moto_endpoint"))
    wiring = wire(request.param, settings)
    yield wiring
    wiring.client.close()


@pytest.fixture
def local_api(tmp_path: Path) -> Iterator[Wiring]:
    wiring = wire("local", local_settings(tmp_path))
    yield wiring
    wiring.client.close()
