"""What the Lambda entry points build once per container (each caches its wiring with
``functools.cache``), on first use; never at import."""

from __future__ import annotations

from imgflow.service import ImageService
from imgflow.settings import Settings, load_settings


def aws_settings() -> Settings:
    """The settings a Lambda function runs with: from its environment (``IMGFLOW_*``)."""
    return load_settings()


def processing_service(settings: Settings) -> ImageService:
    from imgflow.bootstrap import build_service

    return build_service(settings, with_processor=True)
