"""The local reconcile sweep removes records past their TTL (what DynamoDB's TTL does on AWS)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgflow.bootstrap import build_service
from imgflow.errors import NotFound
from imgflow.runtimes.local.env import metrics_dir, worker_env
from imgflow.settings import load_settings

OWNER = "local"


def _tombstone(data_dir: Path, at: float) -> str:
    settings = load_settings(environ={}, backend="local", data_dir=data_dir, public_base_url="http://127.0.0.1:9")
    service = build_service(settings, with_processor=False, clock=lambda: at)
    record, _ = service.create_upload(OWNER, filename="a.png", content_type="image/png", size=10, recipe=None)
    service.delete(OWNER, record.image_id)
    assert service.catalog.get(record.image_id).status == "deleted"
    service.catalog.close()  # type: ignore[attr-defined]
    return record.image_id


def test_a_sweep_purges_tombstones_past_their_ttl(tmp_path: Path) -> None:
    settings = load_settings(environ={}, backend="local", data_dir=tmp_path)
    now = time.time()
    old = _tombstone(tmp_path, now - settings.tombstone_ttl_seconds - 3600)
    fresh = _tombstone(tmp_path, now)
    metrics_dir(tmp_path).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "imgflow.runtimes.local", "reconcile"],
        env=worker_env(tmp_path, None),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"purged":1' in proc.stdout
    service = build_service(settings, with_processor=False)
    with pytest.raises(NotFound):
        service.catalog.get(old)
    assert service.catalog.get(fresh).status == "deleted"
    service.catalog.close()  # type: ignore[attr-defined]
