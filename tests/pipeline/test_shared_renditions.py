"""Renditions that collapse to the same pixels are encoded once and stored once; entries share the key."""

from __future__ import annotations

from pathlib import Path

import pyvips
from pipeline_kit import arrive, assert_done, make_service, rendition_objects

from imgflow.recipes import default_recipe
from imgflow.records import rendition_prefix
from imgflow.service.keys import rendition_key
from processing.proc_helpers import pattern


def test_a_small_image_stores_one_object_per_format(tmp_path: Path) -> None:
    svc = make_service(tmp_path, default_recipe())  # large 2048, medium 1024, thumb 256: JPEG + WebP
    data = bytes(pattern(128, 96).pngsave_buffer())
    record = arrive(svc, data, filename="small.png", content_type="image/png")
    done = assert_done(svc, svc.handle_object_created(record.key), data)
    assert len(done.renditions) == 6
    by_format: dict[str, set[str]] = {}
    for entry in done.renditions:
        by_format.setdefault(entry.format, set()).add(entry.key)
        assert (entry.width, entry.height) == (128, 96)
    assert by_format == {
        "jpeg": {rendition_key(done.image_id, done.generation, "large", "jpg")},
        "webp": {rendition_key(done.image_id, done.generation, "large", "webp")},
    }
    objects = rendition_objects(svc, done.image_id)
    assert len(objects) == 2
    for key in objects:
        image = pyvips.Image.new_from_buffer(svc.renditions.get(key, max_bytes=10**6), "")
        assert (image.width, image.height) == (128, 96)


def test_sizes_that_differ_keep_their_own_objects(tmp_path: Path) -> None:
    svc = make_service(tmp_path, default_recipe())
    data = bytes(pattern(600, 400).jpegsave_buffer())  # thumb 256 differs; large and medium are 600
    record = arrive(svc, data, filename="mid.jpg", content_type="image/jpeg")
    done = assert_done(svc, svc.handle_object_created(record.key), data)
    keys = {(e.name, e.format): e.key for e in done.renditions}
    assert keys["medium", "jpeg"] == keys["large", "jpeg"]
    assert keys["thumb", "jpeg"] == rendition_key(done.image_id, done.generation, "thumb", "jpg")
    assert len(rendition_objects(svc, done.image_id)) == 4
    assert all(k.startswith(rendition_prefix(done.image_id, done.generation)) for k in keys.values())
