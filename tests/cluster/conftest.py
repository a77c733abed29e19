"""A cluster per test (see clusterkit.py): PostgreSQL and SeaweedFS are the session's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import Cluster, cluster_env


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str, weed_server: Any) -> Iterator[Cluster]:
    """Migrated, buckets made, no role running yet."""
    with cluster_env(tmp_path, pg_database, weed_server) as made:
        done = made.run("db", "migrate")
        assert done.returncode == 0, done.stderr
        yield made


@pytest.fixture
def bare_cluster(tmp_path: Path, pg_database: str, weed_server: Any) -> Iterator[Cluster]:
    """Not migrated."""
    with cluster_env(tmp_path, pg_database, weed_server) as made:
        yield made
