"""The HTTP API as one FastAPI app; OpenAPI at ``/docs`` and ``/openapi.json``.

``/docs`` (Swagger UI) loads its script and style from this server (fastapi-offline bundles them,
under ``/static-offline-docs/``), so it works without internet access."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from imgflow import __version__
from imgflow.adapters.fs_store import FsObjectStore
from imgflow.api import problems
from imgflow.api.admission import admission
from imgflow.api.auth import owner_dependency
from imgflow.api.images import images_router
from imgflow.api.limits import BodyCap
from imgflow.api.local import local_router
from imgflow.api.local_files import links_router, rendition_link
from imgflow.api.recipes import recipes_router
from imgflow.api.schemas import Health
from imgflow.api.transform_urls import transform_router
from imgflow.ondemand import Links
from imgflow.service import ImageService
from imgflow.settings import Settings

DESCRIPTION = """Upload images, get renditions. Errors are RFC 9457 problem documents
(`application/problem+json`) with a stable `code`. See docs/api.md."""


def _local_links(settings: Settings, local_store: FsObjectStore | None) -> Callable[[str], str] | None:
    """Locally without auth, a rendition's link is unsigned and never expires (an earlier
    generation's link redirects to the current one); otherwise links are made at read time."""
    if local_store is None or settings.auth != "none" or settings.cdn_base_url:
        return None
    return partial(rendition_link, settings.public_base_url)


def create_app(
    service: ImageService,
    settings: Settings,
    *,
    local_store: FsObjectStore | None = None,
    pending: Callable[[str], int] | None = None,
    links: Links | None = None,
) -> FastAPI:
    """The API over a built service. ``local_store``: the folder store, whose signed upload and
    download URLs this app then serves (``/v1/local-uploads/{token}``, ``/v1/files/{key}``).
    ``pending(owner)``: how many of the owner's images wait, for the backpressure of
    ``max_pending_per_owner`` (the local backend counts them in SQLite).
    ``links``: signs on-demand ``/t/`` URLs for owners (the record view's ``srcset``)."""
    app = FastAPIOffline(
        title="imgflow",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    problems.install(app)
    app.state.service = service
    app.state.settings = settings
    app.state.owner_of = owner_dependency(settings)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="The API process answers")
    async def healthz() -> Health:  # async: no thread-pool hop for a constant
        return Health(version=__version__)

    admit = admission(settings.max_pending_per_owner, pending)
    routers = [
        images_router(
            service,
            settings,
            admit,
            url_for=_local_links(settings, local_store),
            links=links,
            inline_reads=local_store is not None,
            read_threads=settings.database_pool_size if settings.backend == "cluster" else None,
        ),
        recipes_router(settings),
        transform_router(service, links),
    ]
    if local_store is not None:
        routers += [local_router(service, local_store), links_router(service, local_store)]
    for router in routers:
        app.include_router(router)
    # what a 405's Allow header lists
    app.state.routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    # inside CORS, so that a 413 carries the CORS headers; on AWS, API Gateway hands over whole bodies
    idle = settings.body_timeout_seconds if local_store is not None else None
    app.add_middleware(BodyCap, idle_timeout=idle, min_rate=settings.body_min_rate)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type"],
        )
    return app
