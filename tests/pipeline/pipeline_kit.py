"""The real local wiring and the ways an upload arrives, plus what "loses nothing" means as asserts."""

from __future__ import annotations

from pathlib import Path

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.bootstrap import build_service
from imgflow.recipes import Recipe, Rendition
from imgflow.records import ImageRecord, rendition_prefix
from imgflow.service import ImageService, Outcome
from imgflow.settings import load_settings

OWNER = "local"

#: small on purpose: the default recipe is not what these tests are about
RECIPE = Recipe(
    name="default",
    renditions=(
        Rendition(name="thumb", width=256, height=256, format="jpeg"),
        Rendition(name="thumb", width=256, height=256, format="webp"),
    ),
)


def make_service(data_dir: Path, recipe: Recipe = RECIPE) -> ImageService:
    """What ``imgflow serve`` builds for its workers: SQLite + folder store + the image engine."""
    settings = load_settings(
        config_file=None, environ={}, backend="local", data_dir=data_dir, recipes={"default": recipe}
    )
    return build_service(settings, with_processor=True)


def presigned_arrive(svc: ImageService, data: bytes, *, filename: str, content_type: str) -> ImageRecord:
    """``POST /v1/uploads`` then the client's upload to the signed URL, as the local upload route
    does it: the store takes 1..declared-size bytes under the granted content type, never looking
    at them; then the route tells the service the upload completed."""
    record, upload = svc.create_upload(OWNER, filename=filename, content_type=content_type, size=len(data))
    assert upload.url
    store = svc.originals
    assert isinstance(store, FsObjectStore)
    granted = record.declared_type or content_type
    store.put_stream(record.key, [data], content_type=granted, max_bytes=len(data), min_bytes=1)
    queued = svc.upload_completed(record.key)
    assert queued is not None
    assert queued.status == "queued"
    return queued


def arrive(svc: ImageService, data: bytes, *, filename: str, content_type: str) -> ImageRecord:
    """How a client sends a file: ``POST /v1/images`` (body) when it fits the direct route's cap,
    else the presigned route. The direct route raises what the API answers 413/415/400 with."""
    if len(data) <= svc.config.direct_upload_max_bytes:
        return svc.ingest(OWNER, data, filename=filename, content_type=content_type)
    return presigned_arrive(svc, data, filename=filename, content_type=content_type)


def stored_counts(svc: ImageService) -> tuple[int, int]:
    """(records, original objects): what a refused upload must leave unchanged."""
    records, cursor = 0, None
    while True:
        page = svc.list(OWNER, limit=100, cursor=cursor)
        records += len(page.items)
        if page.cursor is None:
            break
        cursor = page.cursor
    return records, len(list(svc.originals.list("originals/")))


def rendition_objects(svc: ImageService, image_id: str) -> list[str]:
    return sorted(info.key for info in svc.renditions.list(rendition_prefix(image_id)))


def assert_original_kept(svc: ImageService, record: ImageRecord, data: bytes) -> None:
    assert svc.originals.get(record.key, max_bytes=len(data) + 1) == data


def assert_done(svc: ImageService, outcome: Outcome, data: bytes) -> ImageRecord:
    assert outcome.kind == "done", outcome
    assert outcome.image_id is not None
    record = svc.get(OWNER, outcome.image_id)
    assert record.status == "done"
    assert record.error is None
    assert record.lease_token is None
    assert record.facts is not None
    assert len(record.renditions) == len(svc.config.recipes[record.recipe].renditions)
    prefix = rendition_prefix(record.image_id, record.generation)
    for stored in record.renditions:
        assert stored.key.startswith(prefix)
        info = svc.renditions.head(stored.key)
        assert info.size == stored.bytes > 0
        assert info.content_type == stored.content_type
        assert stored.width >= 1
        assert stored.height >= 1
    # renditions that came out identical share one object
    assert rendition_objects(svc, record.image_id) == sorted({r.key for r in record.renditions})
    assert_original_kept(svc, record, data)
    return record


def assert_failed(svc: ImageService, outcome: Outcome, data: bytes, code: str) -> ImageRecord:
    assert outcome.kind == "failed", outcome
    assert outcome.reason == code
    assert outcome.image_id is not None
    record = svc.get(OWNER, outcome.image_id)
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.code == code
    message = record.error.message
    assert 0 < len(message) <= 1024
    assert " " in message  # words for a person, not a bare code
    assert "Traceback" not in message
    assert record.lease_token is None
    assert record.renditions == ()
    assert record.facts is None
    assert rendition_objects(svc, record.image_id) == []
    assert_original_kept(svc, record, data)
    return record
