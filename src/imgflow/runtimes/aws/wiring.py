"""Build once per container, on first use (each entry point caches its wiring with
``functools.cache``; tests forget it with ``wiring.cache_clear()``); never at import.

Importing this module (and so a handler) imports neither the settings nor the service:
pydantic and the rest load with the first call, which needs them, so that the handler
module itself imports in milliseconds (``make coldstart``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imgflow.service import ImageService
    from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.runtimes.aws.config_watch import ConfigWatcher


def aws_settings() -> Settings:
    """The settings a Lambda function runs with: from its environment (``IMGFLOW_*``)."""
    from imgflow.settings import load_settings

    return load_settings()


def processing_service(settings: Settings) -> ImageService:
    from imgflow.bootstrap import build_service
    from imgflow.runtimes.aws.telemetry import event_not_published

    return build_service(settings, with_processor=True, on_publish_error=event_not_published)


def follow_config(settings: Settings, service: ImageService) -> ConfigWatcher | None:
    """Read the config object (``config_bucket``) now and swap the service's policy (recipes,
    limits) whenever a recheck finds a new valid version. None without a config bucket."""
    if not settings.config_bucket:
        return None
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.bootstrap import service_config
    from imgflow.runtimes.aws.config_watch import watch

    def apply(new: Settings) -> None:
        service.config = service_config(new)

    store = S3ObjectStore(getattr(service.originals, "client"), settings.config_bucket)  # noqa: B009
    return watch(settings, store, apply)
