"""Every request body is capped, and must keep arriving, before any route (and so auth) reads it.

FastAPI reads and parses a JSON body before it resolves dependencies such as the owner's
credentials; without a cap, an unauthenticated client could make the API buffer any amount.
The cap is 64 KiB unless the route raised it before reading (:func:`~imgflow.api.body.set_body_cap`:
the upload routes). A malformed ``Content-Length`` is a 400 before any route runs; a body
declared larger than the cap is refused (413) before its first byte is read; one without a
length (chunked) is counted as it arrives and refused at the first byte past the cap.

A slow body is cut (408 ``body_timeout``): when no byte arrives for ``idle_timeout`` seconds,
or when, past that first window, it has averaged fewer than ``min_rate`` bytes a second. Only
time spent waiting for the client counts, never the route's own work. Each refusal closes the
connection (``Connection: close``): the rest of that body is never read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imgflow.api.body import CAP_KEY, CUT_KEY, body_cap, content_length
from imgflow.api.problems import ProblemResponse, problem_document
from imgflow.errors import BadRequest

log = logging.getLogger("imgflow.api")

#: JSON bodies are a few hundred bytes; this leaves room and still bounds what a client can make us buffer
DEFAULT_BODY_CAP = 64 * 1024

_DISCONNECT: Message = {"type": "http.disconnect"}
_AT_MOST = "at most %d are accepted here"


async def _ignore() -> Message:
    return _DISCONNECT


class BodyCap:
    """Pure ASGI middleware. ``idle_timeout`` None: no deadline (the AWS API gets whole bodies)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cap: int = DEFAULT_BODY_CAP,
        idle_timeout: float | None = None,
        min_rate: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.cap = cap
        self.idle_timeout = idle_timeout
        self.min_rate = min_rate
        self.clock = clock

    def _too_slow(self, received: int, elapsed: float) -> bool:
        """Past the first idle window, the average rate must reach ``min_rate``."""
        if self.idle_timeout is None or elapsed <= self.idle_timeout:
            return False
        return received < self.min_rate * elapsed

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, detail: str) -> None:
        scope[CUT_KEY] = code
        document = problem_document(status, code, detail, scope.get("path"))
        response = ProblemResponse(document, status_code=status, headers={"connection": "close"})
        await response(scope, _ignore, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = content_length(scope.get("headers", ()))
        except BadRequest as exc:
            await self._refuse(scope, send, 400, exc.code, exc.message)
            return
        scope[CAP_KEY] = self.cap
        received = 0
        first_byte_at: float | None = None
        checked = done = cut = answered = started = False

        async def refuse(status: int, code: str, detail: str) -> Message:
            nonlocal cut, answered
            cut = True  # the app stops reading; the refusal is the answer
            if not started:
                answered = True
                await self._refuse(scope, send, status, code, detail)
            else:
                scope[CUT_KEY] = code
            return _DISCONNECT

        async def next_message() -> Message | None:
            if self.idle_timeout is None:
                return await receive()
            with anyio.move_on_after(self.idle_timeout):
                return await receive()
            return None

        async def guarded_receive() -> Message:
            nonlocal received, first_byte_at, checked, done
            if cut:
                return _DISCONNECT
            if done:
                return await receive()  # after the body: only a disconnect can come, whenever it comes
            cap = body_cap(scope) or self.cap
            if not checked:
                checked = True
                if declared is not None and declared > cap:
                    return await refuse(413, "too_large", f"the request body has {declared} bytes; {_AT_MOST % cap}")
            message = await next_message()
            if message is None:
                log.info("request body timed out", extra={"path": scope.get("path"), "received": received})
                return await refuse(408, "body_timeout", f"no byte of the request body for {self.idle_timeout:g} s")
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received > cap:
                return await refuse(413, "too_large", f"the request body has more than {cap} bytes; {_AT_MOST % cap}")
            done = not message.get("more_body", False)
            now = self.clock()
            first_byte_at = now if first_byte_at is None else first_byte_at
            if not done and self._too_slow(received, now - first_byte_at):
                log.info("request body too slow", extra={"path": scope.get("path"), "received": received})
                return await refuse(408, "body_timeout", f"the request body arrives slower than {self.min_rate} B/s")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not answered:
                raise
            log.debug("the app failed after its body was refused", exc_info=True)
