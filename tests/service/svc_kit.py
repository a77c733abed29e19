"""Helpers for the service tests: in-memory fakes, a clock the test moves, a fake processor."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from imgflow.adapters.faults import Call
from imgflow.adapters.memory import MemoryCatalog, MemoryObjectStore
from imgflow.bootstrap import Adapters, build_service
from imgflow.facts import ImageFacts, ProcessResult, Rendered, RenditionFacts
from imgflow.ports import Expect
from imgflow.recipes import Limits, Recipe, Rendition
from imgflow.records import STATUSES, ImageRecord
from imgflow.service import ImageService
from imgflow.settings import Settings, load_settings
from imgflow.sniff import EXTENSIONS, content_type
from testkit import Clock

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300)
GIF = b"GIF89a" + bytes(100)


class Crash(BaseException):
    """A worker dying mid-job: not an Exception, so nothing in the service catches it."""


@dataclass
class FakeProcessor:
    """Makes one tiny rendition per recipe entry without decoding anything."""

    calls: int = 0
    raises: BaseException | None = None
    during: Callable[[], None] | None = None

    def __call__(self, data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult:
        self.calls += 1
        if self.during is not None:
            self.during()
        if self.raises is not None:
            raise self.raises
        fmt = "png" if data.startswith(b"\x89PNG") else "jpeg"
        facts = ImageFacts(
            sha256=hashlib.sha256(data).hexdigest(),
            format=fmt,
            content_type=content_type(fmt),
            bytes=len(data),
            width=40,
            height=20,
            oriented_width=40,
            oriented_height=20,
        )
        out = []
        for r in recipe.renditions:
            ofmt = fmt if r.format == "same" else r.format
            blob = f"{r.name}:{ofmt}:{len(data)}".encode()
            rf = RenditionFacts(
                name=r.name,
                format=ofmt,
                content_type=content_type(ofmt),
                extension=EXTENSIONS[ofmt],
                width=20,
                height=10,
                bytes=len(blob),
            )
            out.append(Rendered(facts=rf, data=blob))
        return ProcessResult(facts=facts, renditions=tuple(out))


RECIPE = Recipe(
    name="default",
    renditions=(Rendition(name="thumb", width=20, format="jpeg"), Rendition(name="thumb", width=20, format="webp")),
)
OTHER = Recipe(name="other", renditions=(Rendition(name="small", width=10, format="png"),))


@dataclass
class Kit:
    clock: Clock
    originals: MemoryObjectStore
    renditions: MemoryObjectStore
    catalog: MemoryCatalog
    processor: FakeProcessor
    service: ImageService
    settings: Settings
    adapters: Adapters
    queued: list[str] = field(default_factory=list)

    def without_processor(self) -> ImageService:
        """Another process over the same stores, built without the image engine (the API, the
        AWS reconciler)."""
        return build_service(self.settings, adapters=self.adapters, clock=self.clock)

    def rendition_keys(self, image_id: str) -> list[str]:
        return [i.key for i in self.renditions.list(f"renditions/{image_id}/")]

    def crash_mid_job(self, key: str, *, lease_token: str | None = None) -> None:
        """A worker dies while it processes ``key``: the record stays ``processing`` under its lease."""
        raises, self.processor.raises = self.processor.raises, Crash("worker killed")
        try:
            with pytest.raises(Crash):
                self.service.handle_object_created(key, lease_token=lease_token)
        finally:
            self.processor.raises = raises

    def upload(self, owner: str = "alice", data: bytes = PNG, *, declared: str = "image/png") -> ImageRecord:
        """The presigned path up to the object landing (no event yet)."""
        record, grant = self.service.create_upload(owner, filename="cat.png", content_type=declared, size=len(data))
        self.originals.accept_upload(grant.fields, data)
        return record


def writes(status: str) -> Callable[[Call], bool]:
    """A fault's ``when``: the catalog call that moves a record to ``status``."""
    return lambda call: call.args["changes"].get("status") == status


def touch(catalog: MemoryCatalog, image_id: str) -> None:
    """Another writer gets in first: the record's version moves on, nothing else changes."""
    catalog.transition(image_id, Expect(states=STATUSES), {})


def make_kit(**overrides: object) -> Kit:
    """The service as production builds it (:func:`imgflow.bootstrap.build_service`), on the
    in-memory fakes, a clock the test moves and the fake processor; ``overrides`` are settings."""
    clock = Clock()
    originals = MemoryObjectStore("uploads", clock=clock)
    renditions = MemoryObjectStore("renditions", clock=clock)
    catalog = MemoryCatalog(clock=clock)
    settings = load_settings(
        environ={},
        **{
            "recipes": {"default": RECIPE, "other": OTHER},
            "default_recipe": "default",
            "limits": Limits(max_bytes=10_000, accept=("jpeg", "png", "webp")),
            "direct_upload_max_bytes": 5_000,
            "lease_seconds": 60,
            "max_attempts": 3,
            "reconcile_grace_seconds": 30,
            **overrides,
        },
    )
    queued: list[str] = []
    adapters = Adapters(originals=originals, renditions=renditions, catalog=catalog)
    processor = FakeProcessor()
    service = build_service(
        settings, adapters=adapters, processor=processor, clock=clock, on_queued=lambda r: queued.append(r.image_id)
    )
    return Kit(clock, originals, renditions, catalog, processor, service, settings, adapters, queued)
