from __future__ import annotations

from imgflow.errors import ImgflowError, TooLarge, UnsupportedFormat
from imgflow.records import ImageRecord, new_image_id, original_key, rendition_prefix


def test_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_image_id(1_700_000_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    assert len({new_image_id(1.0) for _ in range(1000)}) == 1000
    assert all(len(i) == 26 and i.isalnum() for i in ids)


def test_keys_never_hold_user_text() -> None:
    assert original_key("01ABC") == "originals/01ABC"
    assert rendition_prefix("01ABC", 3) == "renditions/01ABC/3/"


def test_record_round_trips_as_an_item() -> None:
    rec = ImageRecord(image_id="X", owner="local", status="queued", created_at=1.5, updated_at=2.5, filename="a b.jpg")
    item = rec.to_item()
    assert "error" not in item
    assert ImageRecord.from_item(item) == rec


def test_errors_have_codes_and_bounded_messages() -> None:
    assert UnsupportedFormat("x").code == "unsupported_type"
    assert TooLarge("x").http_status == 413
    err = ImgflowError("a\n\tb" + "z" * 5000, code="custom")
    assert err.code == "custom"
    assert len(err.message) <= 1024
    assert "\n" not in err.message
