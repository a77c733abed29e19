"""The HTTP API (FastAPI). Never imports the image engine: the API process stays light."""

from __future__ import annotations

from imgflow.api.app import create_app

__all__ = ["create_app"]
