"""The whole flow on the S3 + DynamoDB wiring against moto server: create the upload through the
API, POST the file straight to "S3" with the presigned form over real HTTP, handle the
ObjectCreated event with the real image engine, read the record and a rendition back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flow_kit import jpeg, serve

from api.api_kit import aws_settings
from imgflow.bootstrap import build_app, build_service
from imgflow.settings import Settings
from testkit import free_port

pytestmark = pytest.mark.moto


@pytest.fixture
def settings(moto_endpoint: str, aws_env: dict[str, str]) -> Settings:
    return aws_settings(moto_endpoint)


def test_presigned_post_to_s3_then_event_then_done(settings: Settings) -> None:
    api_service = build_service(settings, with_processor=False)
    processor = build_service(settings, with_processor=True)
    data = jpeg(800, 600)
    with serve(build_app(settings, service=api_service), free_port()) as url:
        created = httpx.post(
            f"{url}/v1/uploads", json={"filename": "p.jpg", "content_type": "image/jpeg", "size": len(data)}
        )
        assert created.status_code == 201, created.text
        image_id = created.json()["image"]["image_id"]
        upload: dict[str, Any] = created.json()["upload"]
        assert upload["url"].startswith(str(settings.aws_endpoint_url))

        posted = httpx.post(upload["url"], data=upload["fields"], files={"file": ("p.jpg", data, "image/jpeg")})
        assert posted.status_code in (200, 201, 204), posted.text
        key = upload["fields"]["key"]
        etag = processor.originals.head(key).etag

        # the event S3 would send, possibly twice
        assert processor.handle_object_created(key, etag=etag).kind == "done"
        assert processor.handle_object_created(key, etag=etag).kind == "unchanged"

        view = httpx.get(f"{url}/v1/images/{image_id}").json()
        assert view["status"] == "done"
        assert (view["facts"]["width"], view["facts"]["height"]) == (800, 600)
        assert len(view["renditions"]) == 6
        medium = next(r for r in view["renditions"] if (r["name"], r["format"]) == ("medium", "webp"))
        assert (medium["width"], medium["height"]) == (800, 600)  # never upscaled
        got = httpx.get(medium["url"])
        assert got.status_code == 200
        assert got.content[:4] == b"RIFF"
        assert len(got.content) == medium["bytes"]

        assert httpx.delete(f"{url}/v1/images/{image_id}").status_code == 204
        assert processor.handle_object_created(key, etag=etag).kind == "ignored"
        assert httpx.get(f"{url}/v1/images/{image_id}").status_code == 404
