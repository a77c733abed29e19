"""Recipes on AWS without a rebuild: the functions follow the config object (``IMGFLOW_CONFIG_BUCKET``
and ``IMGFLOW_CONFIG_KEY``; ``imgflow config push`` writes it).

At cold start a bad object fails the start loudly (a function never runs with half a config); a
missing one leaves the settings of the environment (a first deploy before its first push). A warm
function HEADs the object at most every ``config_recheck_seconds`` and reloads on a new ETag; a
bad new object keeps the last good config and is logged and counted (``ConfigInvalid``). A
backfill message names the version it was sent for: a function holding another one checks now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from imgflow import config_object
from imgflow.errors import ImgflowError, NotFound
from imgflow.ports import ObjectStore
from imgflow.settings import Settings

log = logging.getLogger("imgflow.service")


class ConfigWatcher:
    def __init__(
        self,
        store: ObjectStore,
        key: str,
        apply: Callable[[Settings], None],
        *,
        source: str,
        recheck_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_invalid: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.apply = apply
        self.source = source
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self.on_invalid = on_invalid
        #: the ETag of the config in use; None = the environment's own settings
        self.version: str | None = None
        self._checked = float("-inf")

    def start(self) -> None:
        """Cold start: raises ConfigError for a bad object (the invocation fails, loudly)."""
        self._checked = self.clock()
        try:
            loaded = config_object.load(self.store, self.key, source=self.source)
        except NotFound:
            log.warning("no config object yet; running the built-in recipes", extra={"config": self.source})
            return
        self._use(loaded)

    def refresh(self, expected: str | None = None) -> None:
        """Recheck when the interval passed, or now when ``expected`` names another version."""
        now = self.clock()
        if expected is not None and expected == self.version:
            return
        if expected is None and now - self._checked < self.recheck_seconds:
            return
        self._checked = now
        try:
            current = self.store.head(self.key).etag
        except NotFound:
            log.warning("the config object is gone; keeping the last config", extra={"config": self.source})
            return
        except ImgflowError as exc:
            log.warning("cannot check the config object", extra={"config": self.source, "code": exc.code})
            return
        if current == self.version:
            return
        try:
            loaded = config_object.load(self.store, self.key, source=self.source)
        except Exception as exc:  # whatever a pushed object holds, a warm function keeps working
            code = exc.code if isinstance(exc, ImgflowError) else type(exc).__name__
            message = exc.message if isinstance(exc, ImgflowError) else str(exc)
            log.error(
                "the new config is invalid; keeping the last good one",
                extra={"config": self.source, "version": current, "code": code, "error": message},
            )
            if self.on_invalid is not None:
                self.on_invalid(message)
            return
        self._use(loaded)

    def _use(self, loaded: config_object.Loaded) -> None:
        self.apply(loaded.settings)
        self.version = loaded.version
        log.info("config loaded", extra={"config": self.source, "version": loaded.version})


def watch(settings: Settings, store: ObjectStore, apply: Callable[[Settings], None]) -> ConfigWatcher | None:
    """The watcher for a function's settings, started (None without ``config_bucket``)."""
    if not settings.config_bucket:
        return None
    from imgflow.runtimes.aws import telemetry

    watcher = ConfigWatcher(
        store,
        settings.config_key,
        apply,
        source=f"s3://{settings.config_bucket}/{settings.config_key}",
        recheck_seconds=settings.config_recheck_seconds,
        on_invalid=telemetry.config_invalid,
    )
    watcher.start()
    return watcher
