"""The use cases. Depends on ports (and, through an injected Processor, on processing)."""

from __future__ import annotations

from imgflow.service.core import ImageService, Outcome, ReconcileReport, ServiceConfig

__all__ = ["ImageService", "Outcome", "ReconcileReport", "ServiceConfig"]
