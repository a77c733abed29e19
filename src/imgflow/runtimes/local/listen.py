"""Where ``imgflow serve`` (and the cluster's API role) listens: the bind policy (loopback, or a
strong token and an explicit public URL) and the listening socket, taken before anything starts."""

from __future__ import annotations

import errno
import ipaddress
import socket
from urllib.parse import urlsplit

from imgflow.errors import ConfigError
from imgflow.settings import Settings

#: an api_token off loopback: 32 characters (e.g. 24 random bytes in base64) ...
MIN_TOKEN_CHARS = 32
#: ... and not "aaaa...": a crude floor on its entropy
MIN_TOKEN_DISTINCT = 10


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """A non-loopback address needs a strong token (anyone who can reach the port could upload,
    or guess a short token) and an explicit ``public_base_url`` (the signed links point there,
    never at ``0.0.0.0``)."""
    if is_loopback(settings.host):
        return
    if settings.auth == "none":
        raise ConfigError(
            f"refusing to serve on {settings.host} without authentication: with auth 'none' only a loopback "
            "address (127.0.0.1, ::1, localhost) may be bound. Set IMGFLOW_AUTH=token and IMGFLOW_API_TOKEN=<secret> "
            "(and add the host name clients use to IMGFLOW_ALLOWED_HOSTS), or bind 127.0.0.1."
        )
    token = settings.api_token or ""
    if settings.auth == "token" and (len(token) < MIN_TOKEN_CHARS or len(set(token)) < MIN_TOKEN_DISTINCT):
        raise ConfigError(
            f"refusing to serve on {settings.host} with a weak api_token: off loopback it needs at least "
            f"{MIN_TOKEN_CHARS} characters, not all alike (make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    public = urlsplit(settings.public_base_url).hostname or ""
    if "public_base_url" not in settings.model_fields_set or _unspecified(public):
        raise ConfigError(
            f"serving on {settings.host} needs public_base_url, the URL clients reach this server at "
            "(IMGFLOW_PUBLIC_BASE_URL=http://images.example.lan:8080): the signed upload and download links point there"
        )


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return not host


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, taken before anything starts: a busy port stops ``serve`` with one plain line."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # Nagle holds each answer's last segment for the client's delayed ACK (40 ms per kept-alive request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            free = _free_port_after(family, address, port)
            other = f"--port {free} (make run PORT={free})" if free else "--port N (make run PORT=N)"
            raise ConfigError(
                f"cannot serve on {host}:{port}: the port is already in use (another imgflow serve?). "
                f"Stop that program or choose another port: {other}."
            ) from None
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}.") from None
    return sock


def _free_port_after(family: socket.AddressFamily, address: str, port: int) -> int | None:
    """The first of the next 20 ports that binds now, to suggest instead of a busy one."""
    for candidate in range(port + 1, min(port + 21, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, candidate))
            except OSError:
                continue
            return candidate
    return None
