"""``imgflow upload --tag/--alt/--meta``, ``imgflow tag`` and ``imgflow list`` through the console
script against a running ``imgflow serve``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from local.conftest import Server
from local.test_cli import PHOTO, imgflow, one_line

pytestmark = [pytest.mark.e2e]


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_upload_with_tags_alt_and_fields_then_tag_and_list(server: Server, corpus: Path, tmp_path: Path) -> None:
    for name in ("one.jpg", "two.jpg"):
        shutil.copy(corpus / PHOTO, tmp_path / name)
    args = ["--tag", "Shore", "--tag", "cli-test", "--alt", "A boat", "--meta", "sku=B-1", "--meta", "x.y=2"]
    done = imgflow("upload", "one.jpg", *args, "--via", "presigned", "--server", server.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    one = _lines(done.stdout)[0]["image_id"]
    record = server.client.get(f"/v1/images/{one}").json()
    assert (record["tags"], record["alt"], record["metadata"]) == (
        ["Shore", "cli-test"],
        "A boat",
        {"sku": "B-1", "x.y": "2"},
    )
    done = imgflow("upload", "two.jpg", "--tag", "cli-test", "--via", "direct", "--server", server.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    two = _lines(done.stdout)[0]["image_id"]

    listed = imgflow("list", "--tag", "CLI-TEST", "--server", server.url)
    assert listed.returncode == 0, listed.stderr
    assert [x["image_id"] for x in _lines(listed.stdout)] == [two, one]
    both = imgflow("list", "--tag", "cli-test", "--tag", "shore", "--server", server.url)
    assert [x["image_id"] for x in _lines(both.stdout)] == [one]
    assert _lines(both.stdout)[0]["alt"] == "A boat"

    tagged = imgflow("tag", two, "--add", "Shore", "--add", "night", "--remove", "CLI-TEST", "--server", server.url)
    assert tagged.returncode == 0, tagged.stderr
    assert json.loads(tagged.stdout) == {"image_id": two, "tags": ["Shore", "night"]}
    assert server.client.get(f"/v1/images/{two}").json()["status"] in ("queued", "processing", "done")
    shore = imgflow("list", "--tag", "shore", "--limit", "1", "--server", server.url)
    assert [x["image_id"] for x in _lines(shore.stdout)] == [two]  # newest first, at most 1


def test_refusals_and_usage_errors_have_their_exit_codes(server: Server, corpus: Path) -> None:
    missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert "no image" in one_line(imgflow("tag", missing, "--add", "x", "--server", server.url), 1)
    usage = imgflow("tag", missing, "--server", server.url)
    assert usage.returncode == 2
    assert "give --add TAG or --remove TAG" in usage.stderr
    bad_tag = imgflow("upload", str(corpus / PHOTO), "--tag", "a,b", "--server", server.url)
    assert bad_tag.returncode == 2
    assert "comma" in bad_tag.stderr
    assert bad_tag.stdout == ""
    bad_meta = imgflow("upload", str(corpus / PHOTO), "--meta", "novalue", "--server", server.url)
    assert bad_meta.returncode == 2
    assert "KEY=VALUE" in bad_meta.stderr
    assert "tag" in one_line(imgflow("list", "--tag", "x" * 65, "--server", server.url), 1)
