"""Tags, alt text and metadata through the API on both wirings: at upload, by merge patch, by tag."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_kit import Wiring, png
from test_routes import problem

MERGE = {"content-type": "application/merge-patch+json"}


def _direct(api: Wiring, query: str = "", colour: int = 1) -> dict[str, Any]:
    resp = api.client.post(f"/v1/images?{query}", content=png(8 + colour, 8))
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _patch(api: Wiring, image_id: str, body: Any, **headers: str) -> httpx.Response:
    import json

    return api.client.request("PATCH", f"/v1/images/{image_id}", content=json.dumps(body), headers={**MERGE, **headers})


def test_direct_upload_takes_tags_alt_and_metadata(api: Wiring) -> None:
    image = _direct(api, "tags=Beach,%20dogs%20,beach&alt=Two%20dogs&metadata.sku=A-1&metadata.licence=CC-BY")
    assert image["tags"] == ["Beach", "dogs"]  # trimmed; `beach` is `Beach` again
    assert image["alt"] == "Two dogs"
    assert image["metadata"] == {"sku": "A-1", "licence": "CC-BY"}
    stored = api.client.get(f"/v1/images/{image['image_id']}").json()
    assert (stored["tags"], stored["alt"], stored["metadata"]) == (image["tags"], "Two dogs", image["metadata"])


def test_presigned_upload_takes_them_as_json(api: Wiring) -> None:
    resp = api.client.post(
        "/v1/uploads",
        json={"content_type": "image/png", "size": 99, "tags": ["a", "B"], "alt": "x", "metadata": {"k.1": "v"}},
    )
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert (image["tags"], image["alt"], image["metadata"]) == (["a", "B"], "x", {"k.1": "v"})
    assert api.service.catalog.get(image["image_id"]).tags == ("a", "B")


def test_merge_patch_changes_only_the_users_fields(api: Wiring) -> None:
    image = _direct(api, "tags=one&alt=first&metadata.a=1&metadata.b=2")
    done = api.service.handle_object_created(f"originals/{image['image_id']}")
    assert done.kind == "done"
    before = api.client.get(f"/v1/images/{image['image_id']}")
    assert before.headers["etag"] == f'"{before.json()["version"]}"'
    resp = _patch(api, image["image_id"], {"tags": ["two", "Three"], "alt": None, "metadata": {"a": None, "c": "3"}})
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert (after["tags"], after["alt"], after["metadata"]) == (["two", "Three"], None, {"b": "2", "c": "3"})
    assert resp.headers["etag"] == f'"{after["version"]}"'
    assert after["version"] == before.json()["version"] + 1
    old = before.json()

    def files(view: dict[str, Any]) -> list[tuple[str, str, int]]:  # URLs are signed at read time
        return [(r["name"], r["format"], r["bytes"]) for r in view["renditions"]]

    assert (after["status"], after["generation"], files(after)) == ("done", 1, files(old))
    assert files(old)
    # plain JSON is the same patch; metadata null removes every key
    plain = api.client.request("PATCH", f"/v1/images/{image['image_id']}", json={"metadata": None})
    assert plain.status_code == 200
    assert (plain.json()["metadata"], plain.json()["tags"]) == ({}, ["two", "Three"])


def test_if_match_stale_is_412_and_changes_nothing(api: Wiring) -> None:
    image = _direct(api, "tags=keep")
    version = api.client.get(f"/v1/images/{image['image_id']}").json()["version"]
    ok = _patch(api, image["image_id"], {"alt": "new"}, **{"if-match": f'"{version}"'})
    assert ok.status_code == 200, ok.text
    stale = _patch(api, image["image_id"], {"tags": ["lost"]}, **{"if-match": f'"{version}"'})
    problem(stale, 412, "precondition_failed")
    assert api.client.get(f"/v1/images/{image['image_id']}").json()["tags"] == ["keep"]
    problem(_patch(api, image["image_id"], {"alt": "x"}, **{"if-match": "yesterday"}), 400, "invalid_if_match")
    assert _patch(api, image["image_id"], {"alt": "any"}, **{"if-match": "*"}).status_code == 200


def test_another_owners_image_is_404(api: Wiring) -> None:
    theirs = api.service.ingest("someone-else", png(), meta=None)
    problem(_patch(api, theirs.image_id, {"tags": ["mine"]}), 404, "not_found")
    assert api.service.catalog.get(theirs.image_id).tags == ()


BAD_PATCHES = [
    ({"tags": ["x"] * 0 + [f"t{i}" for i in range(51)]}, "tags"),
    ({"tags": ["a" * 65]}, "tags[0]"),
    ({"tags": ["ok", ""]}, "tags[1]"),
    ({"tags": ["a,b"]}, "tags[0]"),
    ({"tags": ["bell\x07"]}, "tags[0]"),
    ({"tags": "beach"}, "tags"),
    ({"tags": [1]}, "tags[0]"),
    ({"alt": "a" * 1001}, "alt"),
    ({"alt": "nul\x00"}, "alt"),
    ({"alt": 5}, "alt"),
    ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
    ({"metadata": {"bad key": "v"}}, "metadata"),
    ({"metadata": {"k" * 65: "v"}}, "metadata"),
    ({"metadata": {"k": "v" * 1025}}, "metadata.k"),
    ({"metadata": {"k": 3}}, "metadata.k"),
    ({"metadata": {"k": "esc\x1b"}}, "metadata.k"),
    ({"metadata": ["k"]}, "metadata"),
    ({"status": "done"}, "status"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PATCHES, ids=[f for _, f in BAD_PATCHES])
def test_bad_values_name_the_field_and_change_nothing(api: Wiring, body: dict[str, Any], field: str) -> None:
    image = _direct(api, "tags=keep&alt=kept&metadata.k=v")
    doc = problem(_patch(api, image["image_id"], body), 422, "invalid_field")
    assert doc["errors"][0]["field"] == field
    assert doc["detail"].startswith(f"{field}: ")
    now = api.client.get(f"/v1/images/{image['image_id']}").json()
    assert (now["tags"], now["alt"], now["metadata"], now["version"]) == (
        ["keep"],
        "kept",
        {"k": "v"},
        image["version"],
    )


def test_bad_values_at_upload_store_nothing(api: Wiring) -> None:
    problem(api.client.post("/v1/images?tags=" + "x" * 65, content=png()), 422, "invalid_field")
    problem(api.client.post("/v1/images?metadata.bad%20key=1", content=png()), 422, "invalid_field")
    resp = api.client.post("/v1/uploads", json={"content_type": "image/png", "size": 9, "tags": [{"a": 1}]})
    assert problem(resp, 422, "validation_error")["errors"][0]["field"] == "tags.0"
    resp = api.client.post("/v1/uploads", json={"content_type": "image/png", "size": 9, "alt": "\x00"})
    assert problem(resp, 422, "invalid_field")["errors"][0]["field"] == "alt"
    assert api.client.get("/v1/images").json()["items"] == []
    assert list(api.service.originals.list("originals/")) == []


def test_patch_refuses_other_media_types_and_bad_json(api: Wiring) -> None:
    image = _direct(api)
    url = f"/v1/images/{image['image_id']}"
    problem(api.client.request("PATCH", url, content=b"tags=a", headers={"content-type": "text/plain"}), 415,
            "unsupported_media_type")  # fmt: skip
    problem(api.client.request("PATCH", url, content=b"{", headers=MERGE), 400, "invalid_json")
    assert problem(_patch(api, image["image_id"], ["tags"]), 422, "invalid_field")["errors"][0]["field"] == "body"


def test_list_by_tag_is_and_paged_newest_first(api: Wiring) -> None:
    made = [_direct(api, f"tags={tags}", colour=i) for i, tags in enumerate(["sea,Sun", "sea", "sun", "SEA,sun,x"])]
    ids = [m["image_id"] for m in made]

    def listed(query: str) -> list[str]:
        items: list[str] = []
        cursor = ""
        while True:
            page = api.client.get(f"/v1/images?{query}&limit=1{cursor}").json()
            items += [i["image_id"] for i in page["items"]]
            if not page["cursor"]:
                return items
            cursor = f"&cursor={page['cursor']}"

    assert listed("tag=sea") == [ids[3], ids[1], ids[0]]
    assert listed("tag=SUN&tag=sea") == [ids[3], ids[0]]
    assert listed("tag=nothing") == []
    # a patch moves an image in and out of a tag's listing
    assert _patch(api, ids[1], {"tags": ["sun"]}).status_code == 200
    assert listed("tag=sea") == [ids[3], ids[0]]
    assert listed("tag=sun") == [ids[3], ids[2], ids[1], ids[0]]
    problem(api.client.get("/v1/images?tag=a,b"), 422, "invalid_field")
