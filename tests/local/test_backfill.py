"""``imgflow backfill`` on the local data dir and ``imgflow reprocess`` against a running server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.bootstrap import DB_FILE
from imgflow.cli.main import app
from imgflow.records import original_key
from imgflow.runtimes.local.wiring import worker_service
from imgflow.settings import load_settings

from .conftest import Server

PHOTO = "photos/coffee.png"


def _config(path: Path, width: int) -> Path:
    path.write_text(
        "recipes:\n  default:\n    name: default\n    renditions:\n"
        f"      - {{name: small, width: {width}, format: webp}}\n",
        encoding="utf-8",
    )
    return path


def _backfill(config: Path, data_dir: Path, *args: str) -> dict[str, int]:
    result = CliRunner().invoke(app, ["backfill", "--config", str(config), "--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    summary: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def test_backfill_redrives_what_the_recipe_change_touches_and_resumes(tmp_path: Path, corpus: Path) -> None:
    data_dir = tmp_path / "data"
    old = _config(tmp_path / "old.yaml", 64)
    new = _config(tmp_path / "new.yaml", 96)
    before = worker_service(load_settings(old, data_dir=data_dir))
    photo = (corpus / PHOTO).read_bytes()
    ids = [before.ingest("local", photo, filename=f"{i}.png").image_id for i in range(3)]
    ids.append(before.ingest("someone-else", photo, filename="theirs.png").image_id)  # every owner's
    for image_id in ids:
        assert before.handle_object_created(original_key(image_id)).kind == "done"
    queue = SqliteJobQueue(data_dir / DB_FILE)
    try:
        for job in iter(lambda: queue.claim("test", 60), None):  # the ingests' own jobs: handled above
            queue.finish(job.job_id, job.token)
        assert _backfill(old, data_dir) == {"redriven": 0, "skipped": 0, "failed": 0, "config_version": None}
        assert _backfill(new, data_dir, "--dry-run")["would_redrive"] == 4
        assert _backfill(new, data_dir, "--recipe", "default", "--rate", "100")["redriven"] == 4
        assert queue.depth() == 4  # each a job for the workers, as a reprocess is
        after = worker_service(load_settings(new, data_dir=data_dir))
        for image_id in ids:
            record = after.catalog.get(image_id)
            assert (record.status, record.generation) == ("queued", 2)
        # stopped halfway: one image processed with the new recipe, three still queued
        assert after.handle_object_created(original_key(ids[0])).kind == "done"
        assert _backfill(new, data_dir)["redriven"] == 0  # a rerun re-drives nothing twice
        for image_id in ids[1:]:
            after.handle_object_created(original_key(image_id))
        widths = {r.width for i in ids for r in after.catalog.get(i).renditions}
        assert widths == {96}
        assert _backfill(new, data_dir)["redriven"] == 0
    finally:
        queue.close()


def test_backfill_refuses_an_unknown_recipe(tmp_path: Path) -> None:
    config = _config(tmp_path / "c.yaml", 64)
    result = CliRunner().invoke(
        app, ["backfill", "--config", str(config), "--data-dir", str(tmp_path), "--recipe", "x"]
    )
    assert result.exit_code == 2
    assert "no recipe named 'x'" in result.output


def test_reprocess_through_the_api(server: Server, corpus: Path) -> None:
    image = server.upload_direct(corpus / PHOTO, "image/png")
    first = server.wait_final(image["image_id"])
    assert first["status"] == "done"
    result = CliRunner().invoke(app, ["reprocess", image["image_id"], "--server", server.url])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip())
    assert (line["image_id"], line["status"]) == (image["image_id"], "queued")
    assert server.wait_final(image["image_id"])["status"] == "done"
    assert server.client.get(f"/v1/images/{image['image_id']}").json()["generation"] == first["generation"] + 1

    refused = CliRunner().invoke(app, ["reprocess", "01NOSUCHIMAGE0000000000000", "--server", server.url])
    assert refused.exit_code == 1
    assert "error" in json.loads(refused.stdout.strip())
    unreachable = CliRunner().invoke(app, ["reprocess", image["image_id"], "--server", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 2
