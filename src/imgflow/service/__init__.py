"""The use cases. Depends on ports (and, through an injected Processor, on processing)."""

from __future__ import annotations

from imgflow.service.core import ImageService
from imgflow.service.types import IMMUTABLE, Outcome, ReconcileReport, ServiceConfig

__all__ = ["IMMUTABLE", "ImageService", "Outcome", "ReconcileReport", "ServiceConfig"]
