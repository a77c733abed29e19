"""Presigned links are reused for at most a tenth of their life (five minutes at most)."""

from __future__ import annotations

from imgflow.adapters.reuse_cache import ReuseCache
from testkit import Clock


def test_a_link_is_reused_for_a_tenth_of_its_life_then_signed_again() -> None:
    clock = Clock(1000.0)
    cache = ReuseCache(clock=clock)
    signed: list[str] = []

    def sign() -> str:
        signed.append(f"link-{len(signed)}")
        return signed[-1]

    assert cache.get("k", 3600, sign) == "link-0"
    clock.advance(299)
    assert cache.get("k", 3600, sign) == "link-0"  # 299 s < min(360, 300)
    clock.advance(1)
    assert cache.get("k", 3600, sign) == "link-1"  # at 300 s: a fresh one
    assert cache.get("k", 600, sign) == "link-2"  # another lifetime is another link
    clock.advance(59)
    assert cache.get("k", 600, sign) == "link-2"
    clock.advance(1)
    assert cache.get("k", 600, sign) == "link-3"  # 60 s = a tenth of 600
    assert cache.get("other", 600, sign) == "link-4"


def test_short_lived_links_are_never_reused_and_the_cache_is_bounded() -> None:
    clock = Clock(0.0)
    cache = ReuseCache(size=2, clock=clock)
    made = iter(range(100))
    assert cache.get("k", 5, lambda: str(next(made))) == "0"
    assert cache.get("k", 5, lambda: str(next(made))) == "1"  # 0.5 s of reuse is not worth it
    for key in ("a", "b", "c"):
        cache.get(key, 3600, lambda: str(next(made)))
    assert cache.get("b", 3600, lambda: "new") != "new"
    assert cache.get("a", 3600, lambda: "new") == "new"  # the least recently used went first
