"""The API's side of on-demand URLs: a signed URL for the owner, a srcset in the record view."""

from __future__ import annotations

from pathlib import Path

from api_kit import Client, Wiring, as_subject, local_settings, png, wire

from imgflow.errors import BadSignature
from imgflow.ondemand import OnDemandSettings, Signer, parse_url


def done_image(api: Wiring, width: int = 1000, height: int = 500) -> str:
    resp = api.client.post("/v1/images", content=png(width, height), headers={"content-type": "image/png"})
    image_id = str(resp.json()["image_id"])
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    return image_id


def test_signed_url_and_srcset(local_api: Wiring) -> None:
    image_id = done_image(local_api)
    from imgflow.bootstrap_ondemand import transform_signer

    signer = transform_signer(local_api.settings)
    resp = local_api.client.get(
        f"/v1/images/{image_id}/transform-url",
        params={"width": 300, "height": 200, "fit": "cover", "gravity": "attention", "format": "webp", "dpr": 2},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["generation"] == 1
    assert body["url"].startswith("http://testserver/t/")
    url = parse_url(body["url"].removeprefix("http://testserver"), OnDemandSettings(), signer)
    assert (url.transform.width, url.transform.height, url.transform.dpr) == (320, 240, 2.0)
    assert (url.transform.fit, url.transform.gravity, url.transform.format) == ("cover", "attention", "webp")
    try:
        parse_url(body["url"].removeprefix("http://testserver"), OnDemandSettings(), Signer([b"x" * 32]))
    except BadSignature:
        pass
    else:
        raise AssertionError("another key verified the URL")

    view = local_api.client.get(f"/v1/images/{image_id}").json()
    widths = [part.strip().rsplit(" ", 1)[1] for part in view["srcset"].split(",")]
    assert widths == ["320w", "640w", "960w"]  # no width past the image's 1000 px


def test_refusals(local_api: Wiring, tmp_path: Path) -> None:
    image_id = done_image(local_api, 40, 30)
    client = local_api.client
    for params, code in [
        ({"width": 5000}, "bad_transform"),  # past max_width
        ({"width": 300, "fit": "cover"}, "bad_transform"),  # cover needs both
        ({"width": 300, "gravity": "north"}, "bad_transform"),  # gravity needs cover
        ({"height": 300, "format": "gif"}, "validation_error"),
        ({"format": "webp"}, "bad_transform"),  # no size
    ]:
        resp = client.get(f"/v1/images/{image_id}/transform-url", params=params)
        assert resp.status_code in (400, 422), resp.text
        assert resp.json()["code"] == code, (params, resp.json())
    assert client.get("/v1/images/01HZX3M8Q7V4N6J2K9T5R0W1YC/transform-url?width=300").status_code == 404

    queued = client.post("/v1/images", content=png(), headers={"content-type": "image/png"}).json()
    resp = client.get(f"/v1/images/{queued['image_id']}/transform-url?width=300")
    assert (resp.status_code, resp.json()["code"]) == (409, "conflict")
    assert client.get(f"/v1/images/{queued['image_id']}").json()["srcset"] is None


def test_needs_the_usual_auth(tmp_path: Path) -> None:
    token = "s3cret-token-0123456789"
    api = wire("local", local_settings(tmp_path, auth="token", api_token=token))
    try:
        resp = api.client.get("/v1/images/x/transform-url?width=300")
        assert resp.status_code == 401
    finally:
        api.client.close()


def test_disabled(tmp_path: Path) -> None:
    api = wire("local", local_settings(tmp_path, ondemand={"enabled": False}))
    try:
        image_id = done_image(api)
        resp = api.client.get(f"/v1/images/{image_id}/transform-url?width=300")
        assert (resp.status_code, resp.json()["code"]) == (404, "ondemand_disabled")
        assert api.client.get(f"/v1/images/{image_id}").json()["srcset"] is None
    finally:
        api.client.close()


def test_another_owner_gets_no_url(tmp_path: Path) -> None:
    """jwt mode: bob asking for alice's image gets a 404, never a signed URL (cross-tenant)."""
    api = wire("local", local_settings(tmp_path, auth="jwt"))
    client = Client(as_subject(api.app))
    try:
        alice, bob = {"x-test-subject": "alice"}, {"x-test-subject": "bob"}
        created = client.post("/v1/images", content=png(400, 300), headers={**alice, "content-type": "image/png"})
        image_id = created.json()["image_id"]
        assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
        url = f"/v1/images/{image_id}/transform-url?width=200"
        assert client.get(url, headers=alice).status_code == 200
        theirs = client.get(url, headers=bob)
        assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")
        assert "url" not in theirs.json()
    finally:
        client.close()
        api.client.close()


def test_the_url_names_the_current_generation(local_api: Wiring) -> None:
    image_id = done_image(local_api)
    local_api.service.reprocess("local", image_id)
    assert local_api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    body = local_api.client.get(f"/v1/images/{image_id}/transform-url?width=300").json()
    assert body["generation"] == 2
    assert body["url"].endswith(f"/{image_id}/2")
