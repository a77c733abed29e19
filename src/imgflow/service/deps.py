"""What every use case is given, explicitly: the ports, the policy, the clock and the runtime's
hooks, in one frozen record. The use cases are functions of it (``uc(deps, ...)``); none calls
back up into :class:`~imgflow.service.core.ImageService`, which only gathers them for the
runtimes. The small policies they share are plain functions here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from imgflow.errors import BadRecipe
from imgflow.ports import Catalog, EventPublisher, ObjectStore, Processor
from imgflow.records import ImageRecord
from imgflow.service.types import ServiceConfig

log = logging.getLogger("imgflow.service")

Hook = Callable[[ImageRecord], None]


@dataclass(frozen=True)
class Deps:
    """``on_queued`` announces a move to ``queued`` that no store event will announce (reprocess:
    the original is already stored), for runtimes whose catalog does not enqueue by itself (AWS:
    a message on the processor's queue). Direct and presigned uploads need no announcement: the
    store's own ObjectCreated event (S3) or the catalog's job queue (SQLite) carries them. An
    error in the hook is logged, and the reconcile sweep picks the record up later.

    ``rerun_later`` asks for a record to be handled again once the attempt in hand ends (an object
    landed while it was ``processing``): locally a job that the queue runs once more after the
    worker holding it finishes. On AWS the object's own ObjectCreated event does it (redelivered
    while the lease lives), so the hook stays None. (Not ``redrive``: that is the facade's
    backfill verb, :meth:`~imgflow.service.core.ImageService.redrive`.)

    ``publisher``: where an image's ``Image Processed`` / ``Image Failed`` event goes when it ends
    (:mod:`imgflow.service.outbox`); ``on_publish_error`` counts the failures; ``background``
    runs each delivery off the caller's thread (a local worker must not wait on a webhook)."""

    originals: ObjectStore
    renditions: ObjectStore
    catalog: Catalog
    config: ServiceConfig
    processor: Processor | None = None
    clock: Callable[[], float] = time.time
    on_queued: Hook | None = None
    rerun_later: Hook | None = None
    publisher: EventPublisher | None = None
    on_publish_error: Hook | None = None
    background: Callable[[Callable[[], object]], None] | None = None


def recipe_name(config: ServiceConfig, name: str | None) -> str:
    """The recipe a record gets: ``name``, else the default; BadRecipe when there is none such."""
    key = name or config.default_recipe
    if key not in config.recipes:
        raise BadRecipe(f"no recipe named {key!r}; known: {', '.join(sorted(config.recipes))}")
    return key


def redrive_later(deps: Deps, record: ImageRecord) -> None:
    """A storage error propagates: nothing else would notice the newer object."""
    if deps.rerun_later is not None:
        deps.rerun_later(record)


def notify_queued(deps: Deps, record: ImageRecord) -> None:
    if deps.on_queued is None:
        return
    try:
        deps.on_queued(record)
    except Exception:
        log.exception(
            "on_queued failed; the reconcile sweep will pick the record up", extra={"image_id": record.image_id}
        )
