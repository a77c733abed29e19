"""A byte cap on every request body, enforced before any route (and so before auth) reads it.

FastAPI reads and parses a JSON body before it resolves dependencies such as the owner's
credentials; without a cap, an unauthenticated client could make the API buffer any amount.
The upload routes stream under their own, larger caps and are exempt. A body declared too
large by Content-Length is refused before reading; one without (chunked) is counted as it
arrives and refused at the first byte past the cap. Either way the answer is a 413 problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imgflow.api.problems import ProblemResponse, problem_document

log = logging.getLogger("imgflow.api")

#: JSON bodies are a few hundred bytes; this leaves room and still bounds what a client can make us buffer
DEFAULT_BODY_CAP = 64 * 1024

Exempt = Callable[[str, str], bool]


def upload_routes(method: str, path: str) -> bool:
    """The routes with their own caps: the direct upload and the local presigned upload."""
    return method == "POST" and (path == "/v1/images" or path.startswith("/v1/local-uploads/"))


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server or the route refuses a malformed header
    return None


async def _ignore() -> Message:
    return {"type": "http.disconnect"}


class BodyCap:
    """Pure ASGI middleware: ``cap`` bytes of request body at most, except where ``exempt(method, path)``."""

    def __init__(self, app: ASGIApp, *, cap: int = DEFAULT_BODY_CAP, exempt: Exempt = upload_routes) -> None:
        self.app = app
        self.cap = cap
        self.exempt = exempt

    async def _refuse(self, scope: Scope, send: Send, size: str) -> None:
        detail = f"the request body has {size} bytes; at most {self.cap} are accepted here"
        response = ProblemResponse(problem_document(413, "too_large", detail, scope.get("path")), status_code=413)
        await response(scope, _ignore, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["method"], _route_path(scope)):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.cap:
            await self._refuse(scope, send, str(declared))
            return
        received = 0
        cut = answered = started = False

        async def capped_receive() -> Message:
            nonlocal received, cut, answered
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    cut = True  # the app stops reading; the 413 is the answer
                    if not started:
                        answered = True
                        await self._refuse(scope, send, f"more than {self.cap}")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not answered:
                raise
            log.debug("the app failed after its body was refused", exc_info=True)
