"""The local server's ASGI app: the API app (unchanged) plus the web page and ``/metrics``,
behind the Host allow-list and the security headers. ``/metrics`` asks for the API's
credentials when auth is on (a Prometheus job sends them with ``authorization``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from imgflow.api.auth import owner_dependency
from imgflow.api.problems import ProblemResponse, install_routing, problem_document
from imgflow.errors import Unauthorized
from imgflow.runtimes.local.middleware import HostAllowList, LocalEdge
from imgflow.runtimes.local.transform_app import TransformApp, WithTransforms
from imgflow.settings import Settings

WEB_DIR = Path(__file__).resolve().parent / "web"


def allowed_hosts(settings: Settings) -> list[str]:
    """The configured allow-list, the bound host and the host of ``public_base_url``."""
    hosts = list(settings.allowed_hosts)
    if settings.host not in ("0.0.0.0", "::"):  # nosec B104 # a comparison, not a bind
        hosts.append(f"[{settings.host}]" if ":" in settings.host else settings.host)
    public = urlsplit(settings.public_base_url).hostname
    if public:
        hosts.append(f"[{public}]" if ":" in public else public)
    return hosts


def _page_csp(settings: Settings) -> str:
    public = urlsplit(settings.public_base_url)
    origin = f"{public.scheme}://{public.netloc}" if public.netloc else ""
    return (
        "default-src 'self'; "
        f"img-src 'self' {origin} data: blob:; "
        f"connect-src 'self' {origin}; "
        "style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


def build_local_app(
    settings: Settings,
    api: ASGIApp,
    *,
    queue_depth: Callable[[], dict[str, int]],
    count_upload: Callable[[str], None],
    render_metrics: Callable[[Callable[[], dict[str, int]]], tuple[bytes, str]],
    extra_hosts: Iterable[str] = (),
    transforms: TransformApp | None = None,
) -> ASGIApp:
    csp = _page_csp(settings)

    async def index(request: Request) -> Response:
        return FileResponse(
            WEB_DIR / "index.html",
            media_type="text/html; charset=utf-8",
            headers={"cache-control": "no-cache", "content-security-policy": csp, "referrer-policy": "no-referrer"},
        )

    owner_of = owner_dependency(settings)

    async def metrics(request: Request) -> Response:
        # the same credentials as the API: counts and error codes are not for anyone who can reach the port
        try:
            owner_of(request)
        except Unauthorized as exc:
            document = problem_document(401, exc.code, exc.message, request.url.path)
            return ProblemResponse(document, status_code=401, headers={"www-authenticate": "Bearer"})
        body, content_type = render_metrics(queue_depth)
        return Response(body, media_type=content_type, headers={"cache-control": "no-store"})

    async def favicon(request: Request) -> Response:
        # browsers ask for it on every page: an answer, not a 404 in the log
        return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/web", app=StaticFiles(directory=WEB_DIR), name="web"),
        Mount("/", app=api),
    ]
    starlette = Starlette(routes=routes)
    install_routing(starlette)  # a 404 under /web or a 405 on /metrics is a problem document too
    outer: ASGIApp = starlette
    if transforms is not None:
        outer = WithTransforms(outer, transforms)
    edge = LocalEdge(outer, count_upload)
    return HostAllowList(edge, [*allowed_hosts(settings), *extra_hosts])
