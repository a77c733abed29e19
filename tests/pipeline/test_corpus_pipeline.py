"""Bad input loses nothing: every photos/ and edge/ file of the corpus through the real local wiring.

``build_service`` on the local backend (SQLite catalog, folder store, libvips) is driven the way
an upload arrives (the direct route, or a presigned upload past its cap) and the way the worker
handles it (``handle_object_created`` in the same process). Each file must end as the shared
corpus table says: ``done`` with stored renditions, ``failed`` with the expected code, a message
and the original kept, or refused at the door with nothing stored. The worker survives all of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pipeline_kit import (
    OWNER,
    RECIPE,
    arrive,
    assert_done,
    assert_failed,
    make_service,
    presigned_arrive,
    stored_counts,
)

from imgflow.errors import UnsupportedFormat
from imgflow.records import original_key
from imgflow.service import ImageService
from processing.corpus_expected import EXPECTED, PROCESS

#: the table's codes that the API refuses by magic bytes (415) before anything is stored
REFUSED_AT_THE_DOOR = "unsupported_type"

#: what a guessing client would declare for a corpus file (the service must not trust it)
_DECLARED = {".png": "image/png", ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif"}


def _declared(name: str) -> str:
    return _DECLARED.get(Path(name).suffix, "image/jpeg")


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> ImageService:
    """One service for the whole module: the same process keeps handling file after file."""
    return make_service(tmp_path_factory.mktemp("pipeline"))


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_corpus_file_through_the_pipeline(worker: ImageService, corpus: Path, name: str, expected: str) -> None:
    data = (corpus / name).read_bytes()
    if expected == REFUSED_AT_THE_DOOR:
        before = stored_counts(worker)
        with pytest.raises(UnsupportedFormat) as caught:
            arrive(worker, data, filename=Path(name).name, content_type=_declared(name))
        assert caught.value.http_status == 415
        assert caught.value.message
        assert stored_counts(worker) == before
        # The presigned route never shows the API the bytes: the same file declared as a JPEG
        # lands in the store, and the worker must fail it without decoding it.
        record = presigned_arrive(worker, data, filename=Path(name).name, content_type="image/jpeg")
        outcome = worker.handle_object_created(original_key(record.image_id))
        assert_failed(worker, outcome, data, "unsupported_type")
        return
    record = arrive(worker, data, filename=Path(name).name, content_type=_declared(name))
    assert record.status == "queued"
    outcome = worker.handle_object_created(original_key(record.image_id))
    if expected == PROCESS:
        done = assert_done(worker, outcome, data)
        assert done.facts is not None
        assert done.facts.sha256 == hashlib.sha256(data).hexdigest()
        assert done.filename == Path(name).name
    else:
        assert_failed(worker, outcome, data, expected)
    # At least once: a duplicate of the event changes nothing (no retry storm, no second generation).
    again = worker.handle_object_created(original_key(record.image_id))
    assert again.kind == "unchanged"
    assert again.record is not None
    assert outcome.record is not None
    assert (again.record.generation, again.record.attempts) == (outcome.record.generation, 1)


def test_the_worker_survives_the_whole_hostile_set(tmp_path: Path, corpus: Path) -> None:
    """Every file that must fail, one after another in one service, then a good photo is still made."""
    svc = make_service(tmp_path)
    failing = sorted((name, code) for name, code in EXPECTED.items() if code != PROCESS)
    assert len(failing) >= 20
    for name, code in failing:
        data = (corpus / name).read_bytes()
        if code == REFUSED_AT_THE_DOOR:
            record = presigned_arrive(svc, data, filename=Path(name).name, content_type="image/png")
        else:
            record = arrive(svc, data, filename=Path(name).name, content_type=_declared(name))
        outcome = svc.handle_object_created(original_key(record.image_id))
        assert outcome.kind == "failed", (name, outcome)
    failed = svc.list(OWNER, status="failed", limit=100).items
    assert len(failed) == len(failing) < 100
    assert {r.error.code for r in failed if r.error} == {code for _, code in failing}
    photo = (corpus / "photos/ColorfulCups_2560x1600.jpg").read_bytes()
    record = arrive(svc, photo, filename="after.jpg", content_type="image/jpeg")
    done = assert_done(svc, svc.handle_object_created(original_key(record.image_id)), photo)
    assert [(r.name, r.format) for r in done.renditions] == [(r.name, r.format) for r in RECIPE.renditions]
    assert max(done.renditions[0].width, done.renditions[0].height) == 256
