"""Presigned links reused for a while: signing a GET costs botocore ~0.13 ms, and a status read of
a done image signs one per rendition (six with the default recipe), most of the read's CPU.

A link signed to live ``expires_in`` seconds is handed out again for up to a tenth of that (five
minutes at most), so every link given lives at least 90% of ``expires_in``; the same link for the
same object also lets browsers and proxies cache the download. Bounded (least recently used go
first) and thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: the largest share of a link's life it is reused for, and the longest reuse
REUSE_FRACTION = 0.1
REUSE_MAX_SECONDS = 300.0


class ReuseCache:
    def __init__(self, *, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, expires_in: int, make: Callable[[], str]) -> str:
        """The link ``make()`` signed for ``key`` if it was signed recently enough, else a new one."""
        reuse = min(expires_in * REUSE_FRACTION, REUSE_MAX_SECONDS)
        if reuse < 1:
            return make()
        now = self.clock()
        with self._lock:
            found = self._entries.get((key, expires_in))
            if found is not None and now - found[0] < reuse:
                self._entries.move_to_end((key, expires_in))
                return found[1]
        link = make()
        with self._lock:
            self._entries[(key, expires_in)] = (now, link)
            self._entries.move_to_end((key, expires_in))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return link
