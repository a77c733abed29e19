"""Who is calling: the owner every read and write is scoped to.

``none``: everyone is ``local``. ``token``: ``Authorization: Bearer <api_token>`` (compared in
constant time) is ``local``. ``jwt``: API Gateway's JWT authorizer already checked the token;
its claims arrive in the Lambda event that Mangum puts in ``scope["aws.event"]``, and the
subject is the owner.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request

from imgflow.errors import Unauthorized
from imgflow.settings import Settings

LOCAL_OWNER = "local"
_MAX_SUBJECT = 256


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def jwt_subject(event: Any) -> str | None:
    """The ``sub`` claim of an HTTP API (payload v2) or REST API (v1) authorizer, if any."""
    sub = _dig(event, "requestContext", "authorizer", "jwt", "claims", "sub")
    if sub is None:
        sub = _dig(event, "requestContext", "authorizer", "claims", "sub")
    if not isinstance(sub, str) or not sub or len(sub) > _MAX_SUBJECT or not sub.isprintable():
        return None
    return sub


def owner_dependency(settings: Settings) -> Callable[[Request], str]:
    mode = settings.auth
    expected = (settings.api_token or "").encode()

    def none(request: Request) -> str:
        return LOCAL_OWNER

    def token(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("send Authorization: Bearer <token>")
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized("the bearer token is not valid")
        return LOCAL_OWNER

    def jwt(request: Request) -> str:
        sub = jwt_subject(request.scope.get("aws.event"))
        if sub is None:
            raise Unauthorized("no verified JWT subject (the API Gateway JWT authorizer must run first)")
        return sub

    return {"none": none, "token": token, "jwt": jwt}[mode]


async def current_owner(request: Request) -> str:
    """The dependency routes use; the app puts the configured mode's check in ``app.state.owner_of``.
    ``async``: a few string compares, which a hop to the thread pool (~0.1 ms) would cost more than."""
    owner_of: Callable[[Request], str] = request.app.state.owner_of
    return owner_of(request)


Owner = Annotated[str, Depends(current_owner)]
