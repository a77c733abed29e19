"""The on-demand ``/t/`` URLs' keys and links, built from settings (the rest of the wiring is in
:mod:`imgflow.bootstrap`): which keys sign and verify them on each backend, whether they are
served at all, and where the absolute URLs point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imgflow.bootstrap import aws_client, signing_key
from imgflow.errors import ConfigError
from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.ondemand import Links, Signer


def transform_keys(settings: Settings, *, secrets: Any = None) -> list[bytes]:
    """The on-demand URL keys, the signing one first: from settings, else the Secrets Manager
    secret ``ondemand.keys_secret_arn`` (a JSON list of keys, or keys joined by ","), else (local
    backend) one derived from the local signing key. ConfigError when there are none."""
    from imgflow.ondemand.signing import derive_key

    od = settings.ondemand
    if od.keys:
        return [k.get_secret_value().encode() for k in od.keys]
    if od.keys_secret_arn:
        from imgflow.adapters.secret_keys import SecretKeys

        return SecretKeys(secrets or aws_client(settings, "secretsmanager"), od.keys_secret_arn).get()
    if settings.backend == "local" or (settings.backend == "cluster" and settings.signing_key):
        # the cluster's hosts share the YAML, so its signing_key: every API process signs alike
        return [derive_key(signing_key(settings))]
    if settings.backend == "cluster":
        raise ConfigError(
            "on-demand URLs on the cluster backend need ondemand.keys or signing_key (the same on every host)"
        )
    raise ConfigError("on-demand URLs need ondemand.keys or ondemand.keys_secret_arn on the aws backend")


def ondemand_served(settings: Settings) -> bool:
    """On-demand ``/t/`` URLs are on and have keys: the aws backend needs ``ondemand.keys`` or
    its secret; the cluster those or ``signing_key`` (each host's own key file would disagree)."""
    od = settings.ondemand
    if not od.enabled:
        return False
    if settings.backend == "aws":
        return bool(od.keys or od.keys_secret_arn)
    if settings.backend == "cluster":
        return bool(od.keys or od.keys_secret_arn or settings.signing_key)
    return True


def transform_signer(settings: Settings, *, secrets: Any = None) -> Signer:
    from imgflow.ondemand import Signer

    return Signer(transform_keys(settings, secrets=secrets))


def transform_base_url(settings: Settings) -> str:
    return settings.ondemand.base_url or settings.cdn_base_url or settings.public_base_url


def build_links(settings: Settings, *, secrets: Any = None) -> Links | None:
    """What the API signs owners' transform URLs with; None when on-demand is off or has no keys
    on AWS (the API then answers the URL route with 404 ``ondemand_disabled``)."""
    from imgflow.ondemand import Links

    if not ondemand_served(settings):
        return None
    return Links(settings.ondemand, transform_signer(settings, secrets=secrets), transform_base_url(settings))
