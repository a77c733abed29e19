"""``GET /t/{signature}/{options}/{image_id}/{generation}`` on the local server: pure ASGI.

The policy is :mod:`imgflow.ondemand`'s; this serves its answer: a redirect, a 304, a cached
file, or a render by a render process first (see :mod:`.render_pool`). Errors are problem
documents that no cache keeps.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from starlette.types import Receive, Scope, Send

from imgflow.api.problems import PROBLEM_TYPE, problem_document
from imgflow.errors import ImgflowError, NotFound, NotReady
from imgflow.ondemand.config import OnDemandSettings
from imgflow.ondemand.negotiate import TOKEN_HEADER, token_of
from imgflow.ondemand.resolve import EXTENSIONS, Redirect, Render, RenderJob, etag_matches, resolve
from imgflow.ondemand.signing import Signer
from imgflow.ondemand.urls import parse_url
from imgflow.ports import Catalog
from imgflow.recipes import Recipe
from imgflow.runtimes.local.render_cache import RenderCache

log = logging.getLogger("imgflow.transform")

PREFIX = "/t/"


class Renderer(Protocol):
    async def render(self, job: RenderJob) -> None: ...


class TransformApp:
    def __init__(
        self,
        *,
        settings: OnDemandSettings,
        catalog: Catalog,
        recipes: Mapping[str, Recipe],
        signer: Signer,
        cache: RenderCache,
        renderer: Renderer,
        record: Callable[[str, float | None], None] | None = None,
    ) -> None:
        """``record(outcome, render_seconds)`` counts every answer (metrics): ``hit``, ``rendered``
        (with the render's time), ``not_modified``, ``redirect``, or the refusal's code."""
        self.settings = settings
        self.catalog = catalog
        self.recipes = recipes
        self.signer = signer
        self.cache = cache
        self.renderer = renderer
        self.record = record
        self.immutable = f"public, max-age={settings.max_age_seconds}, immutable"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            await self._problem(send, 405, "method_not_allowed", "only GET and HEAD", path, {"allow": "GET, HEAD"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            outcome, seconds = await self._serve(send, path, headers, head=method == "HEAD")
            self._count(outcome, seconds)
        except ImgflowError as exc:
            self._count(exc.code, None)
            status = exc.http_status if 400 <= exc.http_status < 600 else 500
            extra: dict[str, str] = {}
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                extra["retry-after"] = str(retry_after)
            if status == 500:
                log.error("transform failed", extra={"path": path, "code": exc.code, "error": exc.message})
                await self._problem(send, 500, "internal_error", "the image could not be rendered", path, extra)
                return
            await self._problem(send, status, exc.code, exc.message, path, extra)

    def _count(self, outcome: str, seconds: float | None) -> None:
        if self.record is not None:
            self.record(outcome, seconds)

    async def _serve(self, send: Send, path: str, headers: dict[str, str], *, head: bool) -> tuple[str, float | None]:
        url = parse_url(path, self.settings, self.signer)
        token = token_of(headers.get(TOKEN_HEADER), headers.get("accept"))
        decision = resolve(
            url,
            token,
            catalog=self.catalog,
            recipes=self.recipes,
            signer=self.signer,
            default_quality=self.settings.default_quality,
        )
        if isinstance(decision, Redirect):
            cache = f"public, max-age={self.settings.redirect_max_age_seconds}"
            await self._empty(send, 302, [("location", decision.location), ("cache-control", cache)])
            return "redirect", None
        job = decision.job
        common = [("etag", job.etag), ("cache-control", self.immutable)]
        if decision.negotiated:
            common.append(("vary", "Accept"))
        if etag_matches(headers.get("if-none-match"), job.etag):
            await self._empty(send, 304, common)
            return "not_modified", None
        data, seconds = await self._bytes(decision)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", job.content_type.encode()),
                    (b"content-length", str(len(data)).encode()),
                    *((k.encode(), v.encode()) for k, v in common),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else data})
        return ("hit" if seconds is None else "rendered"), seconds

    async def _bytes(self, decision: Render) -> tuple[bytes, float | None]:
        """The answer's bytes, and how long rendering them took (None: from the cache)."""
        job = decision.job
        seconds: float | None = None
        for _ in range(2):  # an entry evicted between the render and the read is rendered once more
            data = self.cache.read(job.cache_key)
            if data is not None:
                return data, seconds
            if decision.cached_only:
                raise NotReady(f"image {job.image_id!r} is being processed; retry shortly")
            start = time.monotonic()
            await self.renderer.render(job)
            seconds = time.monotonic() - start
            self.cache.added(job.cache_key, EXTENSIONS[job.format])
        raise NotFound("the rendered image went missing; retry")

    @staticmethod
    async def _empty(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _problem(send: Send, status: int, code: str, detail: str, path: str, extra: dict[str, str]) -> None:
        body = json.dumps(problem_document(status, code, detail, path)).encode()
        headers = [
            (b"content-type", PROBLEM_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *((k.encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class WithTransforms:
    """``/t/...`` to the transform app, everything else to ``app`` (no router in the hot path)."""

    def __init__(self, app: object, transforms: TransformApp) -> None:
        self.app = app
        self.transforms = transforms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.transforms(scope, receive, send)
            return
        await self.app(scope, receive, send)  # type: ignore[operator]
