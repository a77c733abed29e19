"""The on-demand transform function: behind CloudFront's ``/t/*`` behaviour, through a Lambda
function URL (payload v2) that only CloudFront may call (origin access control).

The policy is :mod:`imgflow.ondemand`'s, the render :mod:`imgflow.processing.transform`'s;
this reads the record and the source, renders and answers. CloudFront is the cache: answers
carry an ETag and a one-year immutable Cache-Control (``Vary: Accept`` for ``f_auto``, while the
cache key holds the normalised ``x-imgflow-accept`` only). An output over ``max_inline_bytes``
is stored beside the image's renditions (``renditions/{id}/{generation}/t/{key}.{ext}``, deleted
with them) and answered with a redirect to it. The keys are read from Secrets Manager at cold
start and kept for the container's life.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from imgflow.errors import ImgflowError, NotReady
from imgflow.runtimes.aws.wiring import aws_settings

log = logging.getLogger("imgflow.transform")


@dataclass
class TransformWiring:
    settings: Any
    catalog: Any
    originals: Any
    renditions: Any
    signer: Any
    #: the recipes a source is judged by (which stored renditions are full views); the config
    #: object's when the function follows one, else the environment's
    recipes: Any = None
    #: follows the config object (``config_bucket``); None without one
    config: Any = None


@functools.cache
def wiring() -> TransformWiring:
    """Built on the first request, once per container (``wiring.cache_clear()`` forgets it)."""
    import imgflow.processing.transform  # noqa: F401  the image engine loads at cold start, not in the first render
    from imgflow.adapters.dynamo_catalog import DynamoCatalog
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.bootstrap import aws_clients
    from imgflow.bootstrap_ondemand import transform_signer

    settings = aws_settings()
    clients = aws_clients(settings)
    w = TransformWiring(
        settings=settings,
        catalog=DynamoCatalog(clients.dynamodb, settings.table_name),
        originals=S3ObjectStore(clients.s3, settings.uploads_bucket),
        renditions=S3ObjectStore(clients.s3, settings.renditions_bucket),
        signer=transform_signer(settings),
        recipes=settings.recipes,
    )
    if settings.config_bucket:
        from imgflow.runtimes.aws.config_watch import watch

        def apply(new: Any) -> None:
            w.recipes = new.recipes

        w.config = watch(settings, S3ObjectStore(clients.s3, settings.config_bucket), apply)
    return w


def _response(status: int, headers: dict[str, str], body: bytes = b"", *, binary: bool = False) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": headers,
        "body": base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8"),
        "isBase64Encoded": binary,
    }


def _problem(exc: ImgflowError, path: str) -> dict[str, Any]:
    from imgflow.api.problems import PROBLEM_TYPE, problem_document

    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    code, detail = exc.code, exc.message
    if status == 500:
        log.error("transform failed", extra={"path": path, "code": code, "error": detail})
        code, detail = "internal_error", "the image could not be rendered"
    headers = {"content-type": PROBLEM_TYPE, "cache-control": "no-store"}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return _response(status, headers, json.dumps(problem_document(status, code, detail, path)).encode())


def handle(w: TransformWiring, method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    from imgflow.ondemand import parse_url, token_of
    from imgflow.ondemand.negotiate import TOKEN_HEADER

    # from the module itself: once imgflow.ondemand.resolve is imported, the package's attribute
    # `resolve` is that module, not the function (the package's lazy __getattr__ is not asked)
    from imgflow.ondemand.resolve import EXTENSIONS, Redirect, etag_matches, resolve

    if method not in ("GET", "HEAD"):
        return _response(405, {"allow": "GET, HEAD", "cache-control": "no-store"})
    od = w.settings.ondemand
    url = parse_url(path, od, w.signer)
    token = token_of(headers.get(TOKEN_HEADER), headers.get("accept"))
    decision = resolve(
        url, token, catalog=w.catalog, recipes=w.recipes, signer=w.signer, default_quality=od.default_quality
    )
    if isinstance(decision, Redirect):
        cache = f"public, max-age={od.redirect_max_age_seconds}"
        return _response(302, {"location": decision.location, "cache-control": cache})
    if decision.cached_only:  # CloudFront had no copy: nothing to serve until the reprocess ends
        raise NotReady(f"image {url.image_id!r} is being processed; retry shortly")
    job = decision.job
    common = {"etag": job.etag, "cache-control": f"public, max-age={od.max_age_seconds}, immutable"}
    if decision.negotiated:
        common["vary"] = "Accept"
    if etag_matches(headers.get("if-none-match"), job.etag):
        return _response(304, common)
    stored_key = f"renditions/{job.image_id}/{job.generation}/t/{job.cache_key}.{EXTENSIONS[job.format]}"
    if _exists(w, stored_key):
        return _redirect_to_stored(w, stored_key, common)
    out = _render(w, job)
    if len(out) > od.max_inline_bytes:
        w.renditions.put(stored_key, out, content_type=job.content_type, cache_control=common["cache-control"])
        return _redirect_to_stored(w, stored_key, common)
    body = b"" if method == "HEAD" else out
    return _response(200, {**common, "content-type": job.content_type}, body, binary=True)


def _exists(w: TransformWiring, key: str) -> bool:
    from imgflow.errors import NotFound

    try:
        w.renditions.head(key)
    except NotFound:
        return False
    return True


def _redirect_to_stored(w: TransformWiring, key: str, common: dict[str, str]) -> dict[str, Any]:
    # Behind the distribution (the stack gives this function no CDN URL: that would be a circular
    # dependency) a path on the same host reaches the stored object through its default behaviour;
    # never a presigned URL, which would expire while CloudFront keeps the redirect.
    base = w.settings.cdn_base_url
    location = f"{base.rstrip('/')}/{key}" if base else f"/{key}"
    return _response(302, {"location": location, "cache-control": common["cache-control"]})


def _render(w: TransformWiring, job: Any) -> bytes:
    from imgflow.processing.transform import render_transform

    store = w.originals if job.source_key.startswith("originals/") else w.renditions
    data = store.get(job.source_key, max_bytes=w.settings.limits.max_bytes)
    out: bytes = render_transform(data, job, w.settings.limits)
    return out


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = str(event.get("rawPath") or "/")
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    try:
        w = wiring()
        if w.config is not None:
            w.config.refresh()
        return handle(w, method, path, headers)
    except ImgflowError as exc:
        return _problem(exc, path)
