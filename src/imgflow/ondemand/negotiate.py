"""``f_auto``: the output format from the request's ``Accept``, through one normalised token.

The token (``avif``, ``webp`` or ``jpeg``: the best lossy format the client takes) is what a
cache keys on, never the raw header: CloudFront's function and the local server both reduce
``Accept`` to it first. The final choice also depends on the image: PNG when it has alpha and
the token is ``jpeg`` (no lossy format with alpha fits).
"""

from __future__ import annotations

from typing import Literal

Token = Literal["avif", "webp", "jpeg"]
TOKENS: tuple[Token, ...] = ("avif", "webp", "jpeg")
#: the header a CDN function puts the token in (the cache key holds it instead of Accept)
TOKEN_HEADER = "x-imgflow-accept"


def _accepted(accept: str) -> dict[str, float]:
    types: dict[str, float] = {}
    for item in accept.lower().split(",")[:64]:
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            types[media] = max(q, types.get(media, 0.0)) if q > 0 else types.get(media, 0.0)
    return types


def token_from_accept(accept: str | None) -> Token:
    """AVIF, then WebP, when the client names it (``*/*`` promises neither), else JPEG."""
    if not accept:
        return "jpeg"
    types = _accepted(accept)
    for token in ("avif", "webp"):
        if types.get(f"image/{token}", 0.0) > 0:
            return token
    return "jpeg"


def token_of(value: str | None, accept: str | None) -> Token:
    """The token a CDN function set (trusted only when it is one of the three), else from Accept."""
    if value in TOKENS:
        return value
    return token_from_accept(accept)


def choose_format(requested: str, token: Token, has_alpha: bool) -> str:
    """The output format: ``requested`` unless it is ``auto``."""
    if requested != "auto":
        return requested
    if token == "jpeg" and has_alpha:
        return "png"
    return token
