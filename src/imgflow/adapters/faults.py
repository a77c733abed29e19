"""A fault plan the in-memory adapters consult on every call: the one way tests inject a fault.

A :class:`Fault` picks calls by name (``"transition"``, ``"get"``, ``"put"``...), by key (the
object key or image id), by a predicate over the call's arguments, and by count (let ``skip``
matching calls through, then fire ``times`` times). When it fires it runs ``before`` (another
writer gets in first: the call then loses the race on its own), raises ``error``, or, once the
real call has succeeded, runs ``after``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One call an adapter is about to make: its method name, its key (object key or image id;
    empty for calls without one) and its other arguments by name."""

    name: str
    key: str
    args: Mapping[str, Any] = field(default_factory=dict)


Hook = Callable[[Call], object]


@dataclass
class Fault:
    name: str
    key: str | None = None
    when: Callable[[Call], bool] | None = None
    error: BaseException | None = None
    before: Hook | None = None
    after: Hook | None = None
    #: matching calls let through before the fault fires
    skip: int = 0
    #: how many times it fires (None: every matching call)
    times: int | None = 1
    #: how many times it has fired
    fired: int = 0

    def _matches(self, call: Call) -> bool:
        if call.name != self.name or (self.key is not None and call.key != self.key):
            return False
        return self.when is None or self.when(call)

    def _take(self, call: Call) -> bool:
        if not self._matches(call) or (self.times is not None and self.fired >= self.times):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self.fired += 1
        return True


class Faults:
    """The plan: add faults, clear them; the adapters wrap each call in :meth:`around`."""

    def __init__(self) -> None:
        self._plan: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        name: str,
        *,
        key: str | None = None,
        when: Callable[[Call], bool] | None = None,
        error: BaseException | None = None,
        before: Hook | None = None,
        after: Hook | None = None,
        skip: int = 0,
        times: int | None = 1,
    ) -> Fault:
        fault = Fault(name, key, when, error, before, after, skip, times)
        with self._lock:
            self._plan.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._plan.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._plan.clear()

    @contextmanager
    def around(self, name: str, key: str = "", **args: Any) -> Iterator[None]:
        """Hooks run outside the adapter's lock (a ``before`` may call the same adapter): the
        fault has counted its firing first, so such a nested call goes through."""
        if not self._plan:
            yield
            return
        call = Call(name, key, args)
        with self._lock:
            firing = [fault for fault in self._plan if fault._take(call)]
        for fault in firing:
            if fault.before is not None:
                fault.before(call)
            if fault.error is not None:
                raise fault.error
        yield
        for fault in firing:
            if fault.after is not None:
                fault.after(call)
