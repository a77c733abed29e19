"""Local rendition links: stable by name, an earlier generation redirects, only a delete ends a link."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_kit import BASE, Wiring, local_settings, png, wire
from PIL import Image

from imgflow.recipes import default_recipe
from imgflow.service import IMMUTABLE

TOKEN = "links-token-0123456789"
SMALL = {"name": "small", "renditions": [{"name": "thumb", "width": 16, "height": 16, "format": "jpeg"}]}


def settings(tmp_path: Path, **overrides: Any) -> Any:
    return local_settings(tmp_path, recipes={"default": default_recipe(), "small": SMALL}, **overrides)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Wiring]:
    wiring = wire("local", settings(tmp_path))
    yield wiring
    wiring.client.close()


def processed(api: Wiring, headers: dict[str, str] | None = None) -> str:
    image_id: str = api.client.post("/v1/images", content=png(640, 480), headers=headers).json()["image_id"]
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    return image_id


def reprocess(api: Wiring, image_id: str, recipe: str, headers: dict[str, str] | None = None) -> None:
    resp = api.client.post(f"/v1/images/{image_id}/reprocess", json={"recipe": recipe}, headers=headers)
    assert resp.status_code == 202, resp.text
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"


def urls(api: Wiring, image_id: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    view = api.client.get(f"/v1/images/{image_id}", headers=headers).json()
    return {f"{r['name']}.{r['format']}": r["url"].removeprefix(BASE) for r in view["renditions"]}


def width(resp: httpx.Response) -> int:
    return Image.open(io.BytesIO(resp.content)).size[0]


def gone(resp: httpx.Response) -> None:
    assert resp.status_code == 404, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "not_found"


def test_without_auth_links_are_unsigned_and_never_expire(api: Wiring) -> None:
    image_id = processed(api)
    links = urls(api, image_id)
    assert links["thumb.jpeg"] == f"/v1/images/{image_id}/renditions/1/thumb.jpg"
    assert not any("?" in u for u in links.values())
    pinned = api.client.get(links["thumb.jpeg"])
    assert pinned.status_code == 200
    assert (pinned.headers["content-type"], pinned.headers["cache-control"]) == ("image/jpeg", IMMUTABLE)
    assert pinned.headers["content-disposition"].startswith("inline")
    assert pinned.headers["x-content-type-options"] == "nosniff"
    assert width(pinned) == 256
    again = api.client.get(links["thumb.jpeg"], headers={"if-none-match": pinned.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    by_name = api.client.get(f"/v1/images/{image_id}/renditions/thumb.jpg")
    assert (by_name.status_code, by_name.headers["cache-control"]) == (200, "no-cache")
    assert by_name.content == pinned.content
    assert api.client.request("HEAD", f"/v1/images/{image_id}/renditions/thumb.webp").status_code == 200
    gone(api.client.get(f"/v1/images/{image_id}/renditions/nothing.jpg"))
    gone(api.client.get(f"/v1/images/{image_id}/renditions/2/thumb.jpg"))  # not made yet


def test_an_earlier_generation_redirects_to_the_current_one(api: Wiring) -> None:
    image_id = processed(api)
    old = urls(api, image_id)
    by_name = f"/v1/images/{image_id}/renditions/thumb.jpg"
    first_etag = api.client.get(by_name).headers["etag"]
    reprocess(api, image_id, "small")
    new = urls(api, image_id)
    assert set(new) == {"thumb.jpeg"}
    assert new["thumb.jpeg"] == f"/v1/images/{image_id}/renditions/2/thumb.jpg"

    moved = api.client.get(old["thumb.jpeg"])
    assert moved.status_code == 307
    assert moved.headers["location"] == new["thumb.jpeg"]
    assert moved.headers["cache-control"] == "no-cache"
    assert width(api.client.get(moved.headers["location"])) == 16
    # by name it is the new file at once, and the old ETag no longer matches
    now = api.client.get(by_name, headers={"if-none-match": first_etag})
    assert (now.status_code, width(now)) == (200, 16)
    # a name the new recipe does not make has nothing to move to
    gone(api.client.get(old["medium.jpeg"]))

    reprocess(api, image_id, "default")  # two generations later, the first link still lands
    moved = api.client.get(old["thumb.jpeg"])
    assert moved.headers["location"] == f"/v1/images/{image_id}/renditions/3/thumb.jpg"
    assert width(api.client.get(old["medium.jpeg"], follow_redirects=True)) == 640


def test_a_signed_link_of_an_earlier_generation_redirects_to_a_fresh_signed_one(api: Wiring) -> None:
    image_id = processed(api)
    record = api.service.get("local", image_id)
    # by each entry's own name: identical renditions share one object (640 px: large serves medium)
    signed = {
        f"{r.name}.{r.key.rsplit('.', 1)[1]}": api.service.rendition_url(r.key).removeprefix(BASE)
        for r in record.renditions
    }
    reprocess(api, image_id, "small")
    moved = api.client.get(signed["thumb.jpg"])
    assert moved.status_code == 307
    location = moved.headers["location"]
    assert location.startswith(f"/v1/files/renditions/{image_id}/2/thumb.jpg?exp=")
    assert "sig=" in location
    assert width(api.client.get(location)) == 16
    gone(api.client.get(signed["medium.jpg"]))


def test_only_a_delete_ends_a_link(api: Wiring) -> None:
    image_id = processed(api)
    record = api.service.get("local", image_id)
    signed = api.service.rendition_url(record.renditions[0].key).removeprefix(BASE)
    links = urls(api, image_id)
    reprocess(api, image_id, "default")
    assert api.client.get(links["thumb.jpeg"]).status_code == 307
    assert api.client.get(signed).status_code == 307
    assert api.client.delete(f"/v1/images/{image_id}").status_code == 204
    for url in (links["thumb.jpeg"], signed, f"/v1/images/{image_id}/renditions/thumb.jpg"):
        gone(api.client.get(url))


def test_a_file_left_behind_by_a_delete_is_not_served(api: Wiring) -> None:
    image_id = processed(api)
    record = api.service.get("local", image_id)
    key = record.renditions[0].key
    signed = api.service.rendition_url(key).removeprefix(BASE)
    data = api.service.renditions.get(key, max_bytes=10**8)
    assert api.client.delete(f"/v1/images/{image_id}").status_code == 204
    api.service.renditions.put(key, data, content_type=record.renditions[0].content_type)  # a removal that failed
    gone(api.client.get(signed))
    gone(api.client.get(f"/v1/images/{image_id}/renditions/{key.rsplit('/', 1)[1]}"))


def test_with_a_token_links_are_signed_and_the_stable_ones_need_the_header(tmp_path: Path) -> None:
    api = wire("local", settings(tmp_path, auth="token", api_token=TOKEN))
    bearer = {"authorization": f"Bearer {TOKEN}"}
    try:
        image_id = processed(api, bearer)
        links = urls(api, image_id, bearer)
        assert links["thumb.jpeg"].startswith(f"/v1/files/renditions/{image_id}/1/thumb.jpg?exp=")
        assert api.client.get(links["thumb.jpeg"]).status_code == 200  # the signature is the grant
        by_name = f"/v1/images/{image_id}/renditions/thumb.jpg"
        assert api.client.get(by_name).status_code == 401
        assert api.client.get(f"/v1/images/{image_id}/renditions/1/thumb.jpg").status_code == 401
        assert api.client.get(by_name, headers=bearer).status_code == 200
        reprocess(api, image_id, "small", bearer)
        moved = api.client.get(links["thumb.jpeg"])
        assert moved.status_code == 307
        assert width(api.client.get(moved.headers["location"])) == 16
    finally:
        api.client.close()


def test_recipes_are_listed(tmp_path: Path) -> None:
    api = wire("local", settings(tmp_path, auth="token", api_token=TOKEN))
    try:
        assert api.client.get("/v1/recipes").status_code == 401
        body = api.client.get("/v1/recipes", headers={"authorization": f"Bearer {TOKEN}"}).json()
    finally:
        api.client.close()
    assert body["default"] == "default"
    assert [r["name"] for r in body["items"]] == ["default", "small"]
    small = body["items"][1]["renditions"]
    assert small == [
        {"name": "thumb", "width": 16, "height": 16, "fit": "contain", "format": "jpeg", "watermark": False}
    ]
    names = {(r["name"], r["format"]) for r in body["items"][0]["renditions"]}
    assert ("thumb", "webp") in names


def test_renditions_sharing_one_object_answer_by_their_own_names(api: Wiring) -> None:
    """A 128 px image: large, medium and thumb come out identical and share large's object;
    the by-name link of each still answers (before: 404 for medium and thumb)."""
    image_id: str = api.client.post("/v1/images", content=png(128, 96)).json()["image_id"]
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    record = api.service.get("local", image_id)
    keys = {r.key for r in record.renditions if r.format == "webp"}
    assert len(keys) == 1, keys  # shared: the case this test is about
    for name in ("large", "medium", "thumb"):
        resp = api.client.get(f"/v1/images/{image_id}/renditions/{name}.webp")
        assert resp.status_code == 200, (name, resp.text)
        assert width(resp) == 128
