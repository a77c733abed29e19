"""The on-demand transform function on moto, through its handler, with real signed URLs.

The keys live in a Secrets Manager secret (read once per container); the image is processed by
the real pipeline into S3 + DynamoDB; each request is a Lambda function URL event (the real
sample's shape) for a path the API signed.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgflow.bootstrap import aws_clients, build_service
from imgflow.bootstrap_ondemand import build_links
from imgflow.ondemand import Signer, Transform
from imgflow.ondemand.urls import sign_path
from imgflow.runtimes.aws import transform
from imgflow.service import ImageService
from imgflow.settings import Settings, load_settings

from .lambda_events import FakeContext, load

pytestmark = pytest.mark.moto

NEW_KEY = "n" * 40
OLD_KEY = "o" * 40


@pytest.fixture
def stack(moto_endpoint: str, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    import boto3

    from imgflow.adapters.dynamo_schema import create_table

    suffix = uuid.uuid4().hex[:10]
    secrets = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")
    arn = secrets.create_secret(Name=f"od-{suffix}", SecretString=json.dumps({"keys": f"{NEW_KEY},{OLD_KEY}"}))["ARN"]
    env = {
        "IMGFLOW_BACKEND": "aws",
        "IMGFLOW_AWS_ENDPOINT_URL": moto_endpoint,
        "IMGFLOW_AWS_REGION": "us-east-1",
        "IMGFLOW_UPLOADS_BUCKET": f"up-{suffix}",
        "IMGFLOW_RENDITIONS_BUCKET": f"out-{suffix}",
        "IMGFLOW_TABLE_NAME": f"images-{suffix}",
        "IMGFLOW_CDN_BASE_URL": "https://d111111abcdef8.cloudfront.net",
        "IMGFLOW_ONDEMAND__KEYS_SECRET_ARN": arn,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(environ=env)
    clients = aws_clients(settings)
    clients.s3.create_bucket(Bucket=settings.uploads_bucket)
    clients.s3.create_bucket(Bucket=settings.renditions_bucket)
    create_table(clients.dynamodb, settings.table_name)
    transform.wiring.cache_clear()
    yield settings
    transform.wiring.cache_clear()


def done_image(service: ImageService, path: Path) -> str:
    record = service.ingest("user-1", path.read_bytes(), filename=path.name)
    outcome = service.handle_object_created(f"originals/{record.image_id}")
    assert outcome.kind == "done", outcome
    return record.image_id


def url_event(corpus: Path, path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    event = copy.deepcopy(load(corpus, "aws-lambda-go/lambda-urls-request.json"))
    event.update(
        rawPath=path, rawQueryString="", body=None, headers={"host": "x.lambda-url.us-east-1.on.aws", **headers}
    )
    event.pop("queryStringParameters", None)
    event["requestContext"]["http"].update(method=method, path=path)
    return event


def call(corpus: Path, path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = transform.handler(url_event(corpus, path, method, **headers), FakeContext())
    return response


def body_of(response: dict[str, Any]) -> bytes:
    assert response["isBase64Encoded"] is True
    return base64.b64decode(response["body"])


def problem_of(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["content-type"] == "application/problem+json"
    assert response["headers"]["cache-control"] == "no-store"
    doc: dict[str, Any] = json.loads(response["body"])
    assert doc["status"] == response["statusCode"]
    return doc


def test_signed_urls_through_the_handler(stack: Settings, corpus: Path) -> None:
    service = build_service(stack, with_processor=True)
    image_id = done_image(service, corpus / "photos" / "coffee.png")
    links = build_links(stack)
    assert links is not None
    record = service.get("user-1", image_id)
    path = links.url(record, Transform(width=320)).removeprefix("https://d111111abcdef8.cloudfront.net")
    assert path.startswith("/t/")

    # f_auto: the CloudFront function's normalised token decides, Vary: Accept, an ETag, immutable
    avif = call(corpus, path, **{"x-imgflow-accept": "avif", "accept": "image/webp"})
    assert avif["statusCode"] == 200
    assert avif["headers"]["content-type"] == "image/avif"
    assert avif["headers"]["vary"] == "Accept"
    assert "immutable" in avif["headers"]["cache-control"]
    webp = call(corpus, path, accept="image/webp,*/*")
    with Image.open(io.BytesIO(body_of(webp))) as image:
        assert (image.format, image.size[0]) == ("WEBP", 320)
    assert webp["headers"]["etag"] != avif["headers"]["etag"]
    assert call(corpus, path, accept="image/webp", **{"if-none-match": webp["headers"]["etag"]})["statusCode"] == 304
    head = call(corpus, path, "HEAD", accept="image/webp")
    assert (head["statusCode"], body_of(head)) == (200, b"")
    assert transform.wiring.cache_info().currsize == 1
    wired = transform.wiring()
    call(corpus, path)
    assert transform.wiring() is wired  # keys read once, at cold start

    # a URL signed with the older key still verifies (rotation); the options' one spelling
    old = sign_path(Signer([OLD_KEY.encode()]), "w_320,f_jpeg", image_id, 1)
    assert call(corpus, old)["headers"]["content-type"] == "image/jpeg"

    # refusals
    assert problem_of(call(corpus, path.replace("w_320", "w_640")))["code"] == "bad_signature"
    assert problem_of(call(corpus, f"/t/_/w_320/{image_id}/1"))["code"] == "bad_signature"
    signer = Signer([NEW_KEY.encode()])
    assert problem_of(call(corpus, sign_path(signer, "w_321", image_id, 1)))["code"] == "bad_transform"
    assert problem_of(call(corpus, sign_path(signer, "f_webp,w_320", image_id, 1)))["code"] == "bad_transform"
    assert problem_of(call(corpus, sign_path(signer, "w_320", image_id, 2)))["code"] == "not_found"
    assert call(corpus, path, "POST")["statusCode"] == 405

    # a reprocess: generation 1 redirects to generation 2; a delete ends the URLs
    service.reprocess("user-1", image_id)
    assert service.handle_object_created(f"originals/{image_id}").kind == "done"
    moved = call(corpus, path)
    assert moved["statusCode"] == 302
    assert moved["headers"]["location"] == links.url(
        service.get("user-1", image_id), Transform(width=320)
    ).removeprefix("https://d111111abcdef8.cloudfront.net")
    assert call(corpus, moved["headers"]["location"], accept="image/webp")["statusCode"] == 200
    service.delete("user-1", image_id)
    assert problem_of(call(corpus, moved["headers"]["location"]))["code"] == "not_found"


def test_large_outputs_are_stored_and_redirected(
    stack: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMGFLOW_ONDEMAND__MAX_INLINE_BYTES", "2000")
    # as the stack deploys it: no CDN URL (the distribution's origin is this function)
    monkeypatch.delenv("IMGFLOW_CDN_BASE_URL")
    service = build_service(stack, with_processor=True)
    image_id = done_image(service, corpus / "photos" / "coffee.png")
    path = sign_path(Signer([NEW_KEY.encode()]), "w_480,f_png", image_id, 1)
    first = call(corpus, path)
    assert first["statusCode"] == 302
    location = first["headers"]["location"]
    # a path on the distribution's own host: its default behaviour serves the stored object
    assert location.startswith(f"/renditions/{image_id}/1/t/")
    assert location.endswith(".png")
    key = location.removeprefix("/")
    stored = service.renditions.get(key, max_bytes=10_000_000)
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size[0]) == ("PNG", 480)
    assert call(corpus, path)["headers"]["location"] == location  # the stored copy, not a second render
    service.delete("user-1", image_id)  # deleted with the image's renditions
    assert not list(service.renditions.list(f"renditions/{image_id}/"))


def test_missing_secret_is_a_clear_error(stack: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGFLOW_ONDEMAND__KEYS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
    transform.wiring.cache_clear()
    response = call(corpus, f"/t/x/w_320/{'A' * 26}/1")
    assert response["statusCode"] == 500
    assert problem_of(response)["code"] == "internal_error"


CONFIG_YAML = b"""recipes:
  default:
    name: default
    renditions:
      - {name: big, width: 1200, height: 1200, fit: contain, format: png}
"""


def test_sources_are_judged_by_the_config_objects_recipes(
    stack: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recipes pushed to the config bucket (not the environment's) say which stored renditions
    are full views: with the original gone, only the pushed recipe's rendition can be the source."""
    from imgflow import config_object
    from imgflow.adapters.s3_store import S3ObjectStore

    s3 = aws_clients(stack).s3
    bucket = f"cfg-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="imgflow.yaml", Body=CONFIG_YAML)
    pushed = config_object.load(S3ObjectStore(s3, bucket), "imgflow.yaml", source="test").settings
    assert "big" not in {r.name for r in stack.recipes[stack.default_recipe].renditions}
    service = build_service(pushed, with_processor=True)
    image_id = done_image(service, corpus / "photos" / "coffee.png")
    assert [r.name for r in service.get("user-1", image_id).renditions] == ["big"]
    s3.delete_object(Bucket=stack.uploads_bucket, Key=f"originals/{image_id}")
    path = sign_path(Signer([NEW_KEY.encode()]), "w_320,f_png", image_id, 1)

    # the environment's recipes do not name "big": the original is the source, and it is gone
    assert call(corpus, path)["statusCode"] != 200
    monkeypatch.setenv("IMGFLOW_CONFIG_BUCKET", bucket)
    monkeypatch.setenv("IMGFLOW_CONFIG_KEY", "imgflow.yaml")
    transform.wiring.cache_clear()
    response = call(corpus, path)
    assert response["statusCode"] == 200, response
    with Image.open(io.BytesIO(body_of(response))) as image:
        assert (image.format, image.size[0]) == ("PNG", 320)
