"""Build once per container, on first use; never at import.

Importing this module (and so a handler) imports neither the settings nor the service:
pydantic and the rest load with the first call, which needs them, so that the handler
module itself imports in milliseconds (``make coldstart``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from imgflow.service import ImageService
    from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.runtimes.aws.config_watch import ConfigWatcher

T = TypeVar("T")


class Lazy(Generic[T]):
    """A value built on the first :meth:`get` and cached; ``value`` is None until then."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self.value: T | None = None

    def get(self) -> T:
        value = self.value
        if value is None:
            with self._lock:
                if self.value is None:
                    self.value = self._build()
                value = self.value
        return value

    def reset(self) -> None:
        """Forget the cached value (tests that change the environment between calls)."""
        with self._lock:
            self.value = None


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
