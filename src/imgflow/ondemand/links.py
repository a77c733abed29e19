"""Absolute transform URLs for an owner: one for a given transform, and a ``srcset``."""

from __future__ import annotations

from imgflow.errors import Conflict
from imgflow.ondemand.config import OnDemandSettings
from imgflow.ondemand.options import Transform
from imgflow.ondemand.signing import Signer
from imgflow.ondemand.urls import make_path
from imgflow.records import ImageRecord


class Links:
    """Makes the URLs an owner embeds. ``base_url``: where ``/t/`` is served (the CDN on AWS)."""

    def __init__(self, settings: OnDemandSettings, signer: Signer, base_url: str) -> None:
        self.settings = settings
        self.signer = signer
        self.base_url = base_url.rstrip("/")

    def url(self, record: ImageRecord, transform: Transform) -> str:
        if record.status != "done" or record.facts is None:
            raise Conflict(f"image {record.image_id!r} is {record.status}; only processed images have URLs")
        return self.base_url + make_path(self.signer, self.settings, transform, record.image_id, record.generation)

    def srcset(self, record: ImageRecord) -> str | None:
        """``url 320w, url 640w, ...`` for the configured widths the image can fill (no upscaling);
        the image's own width when it is narrower than all of them. None until the image is done."""
        if record.status != "done" or record.facts is None:
            return None
        own = record.facts.oriented_width
        widths = [w for w in self.settings.srcset_widths if w <= own] or [self.settings.srcset_widths[0]]
        parts = []
        for width in widths:
            path = make_path(self.signer, self.settings, Transform(width=width), record.image_id, record.generation)
            parts.append(f"{self.base_url}{path} {min(width, own)}w")
        return ", ".join(parts)
