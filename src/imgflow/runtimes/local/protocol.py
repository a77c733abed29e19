"""uvicorn's h11 protocol with a deadline on request headers (slowloris).

uvicorn limits the size of a header section (``h11_max_incomplete_event_size``) and the idle
time between requests (``timeout_keep_alive``), but not how long the headers may take to
arrive: a client sending one header byte a minute holds its connection forever. Here the
header section of every request must be complete within ``header_timeout`` seconds of the
connection opening, or of the first byte after the previous answer; otherwise the connection
is closed. Bodies have their own deadline in the ASGI app (:class:`~imgflow.api.limits.BodyCap`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("imgflow.http")


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout: float = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers() and not self.transport.is_closing():
            log.info("request headers too slow; connection closed", extra={"client": str(self.client)})
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers():
            self._arm()  # from the first byte: the deadline covers the whole header section
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # idle now: uvicorn's keep-alive timeout applies until the next byte
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def header_deadline_protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})
