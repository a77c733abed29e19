"""The use cases. Depends on ports (and, through an injected Processor, on processing)."""

from __future__ import annotations

from imgflow.service.core import ImageService
from imgflow.service.deps import Deps
from imgflow.service.types import IMMUTABLE, Kind, Outcome, Reason, ReconcileReport, ServiceConfig

__all__ = ["IMMUTABLE", "Deps", "ImageService", "Kind", "Outcome", "Reason", "ReconcileReport", "ServiceConfig"]
