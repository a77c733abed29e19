"""Damaged and tiny images through the real local wiring: a cut JPEG ends ``failed`` (never
``done`` and half grey) with its original kept; a 1x1 JPEG ends ``done``."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips
from pipeline_kit import arrive, assert_done, assert_failed, make_service

from imgflow.service import ImageService
from processing.proc_helpers import pattern


@pytest.fixture
def svc(tmp_path: Path) -> ImageService:
    return make_service(tmp_path)


def test_a_cut_jpeg_with_an_end_marker_appended_fails_and_keeps_its_original(svc: ImageService) -> None:
    whole = bytes(pattern(800, 600).jpegsave_buffer(Q=90))
    data = whole[: len(whole) // 2] + b"\xff\xd9"
    record = arrive(svc, data, filename="cut.jpg", content_type="image/jpeg")
    assert_failed(svc, svc.handle_object_created(record.key), data, "corrupt_image")
    whole_record = arrive(svc, whole, filename="whole.jpg", content_type="image/jpeg")
    assert_done(svc, svc.handle_object_created(whole_record.key), whole)


def test_a_one_pixel_jpeg_is_done(svc: ImageService) -> None:
    data = bytes(pyvips.Image.black(1, 1).new_from_image([10, 200, 30]).cast("uchar").jpegsave_buffer())
    record = arrive(svc, data, filename="dot.jpg", content_type="image/jpeg")
    done = assert_done(svc, svc.handle_object_created(record.key), data)
    assert {(r.width, r.height) for r in done.renditions} == {(1, 1)}
    assert {r.format for r in done.renditions} == {"jpeg", "webp"}
