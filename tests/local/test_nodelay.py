"""Every connection the server accepts has Nagle off: a kept-alive answer never waits for a delayed ACK."""

from __future__ import annotations

import asyncio
import socket

from imgflow.runtimes.local.listen import bind


async def _accepted_nodelay(listening: socket.socket) -> tuple[int, int]:
    """Serve ``listening`` the way uvicorn does (``loop.create_server(sock=...)``) and read the options
    of the connection it accepts."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[tuple[int, int]] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result((sock.proto, sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
            transport.close()

    server = await loop.create_server(Probe, sock=listening)
    port = listening.getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(seen, 10)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_accepted_connections_have_tcp_nodelay() -> None:
    listening = bind("127.0.0.1", 0)
    assert listening.proto == socket.IPPROTO_TCP
    proto, nodelay = asyncio.run(_accepted_nodelay(listening))
    assert proto == socket.IPPROTO_TCP
    assert nodelay != 0
