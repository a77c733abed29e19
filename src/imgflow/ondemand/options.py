"""The transform options of a ``/t/`` URL: parse, validate, serialize, in one canonical form.

``w_400,h_300,fit_cover,g_attention,f_webp,q_80,dpr_2,up_1``: ``key_value`` pairs joined by
``,`` in exactly this key order, each key at most once, defaults left out (``fit_contain``,
``g_centre``, ``f_auto``, ``dpr_1``). Anything else (an unknown key, a repeat, another order, a
default spelled out, ``w_0400``) is refused: one transform has one spelling, so it has one
signature and one cache entry.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal, get_args

from imgflow.errors import BadTransform

Fit = Literal["contain", "cover"]
Gravity = Literal[
    "centre", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest", "attention"
]
Format = Literal["auto", "jpeg", "png", "webp", "avif"]

FITS: tuple[str, ...] = get_args(Fit)
GRAVITIES: tuple[str, ...] = get_args(Gravity)
FORMATS: tuple[str, ...] = get_args(Format)
#: the canonical order of the keys
KEYS = ("w", "h", "fit", "g", "f", "q", "dpr", "up")
MAX_SIZE = 16384
#: a preset stands alone: ``p_thumb``
PRESET_KEY = "p"

_INT = re.compile(r"^[1-9][0-9]{0,5}$")
_DPR = re.compile(r"^[1-4](\.[0-9]{1,2})?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_OPTIONS_LENGTH = 128


@dataclass(frozen=True)
class Transform:
    """One transform. Sizes are CSS pixels; ``dpr`` multiplies them into device pixels."""

    width: int | None = None
    height: int | None = None
    fit: Fit = "contain"
    gravity: Gravity = "centre"
    format: Format = "auto"
    quality: int | None = None
    dpr: float = 1.0
    upscale: bool = False

    def __post_init__(self) -> None:
        check(self)

    @property
    def pixel_width(self) -> int | None:
        return None if self.width is None else round(self.width * self.dpr)

    @property
    def pixel_height(self) -> int | None:
        return None if self.height is None else round(self.height * self.dpr)


def check(t: Transform) -> None:
    """What every transform must satisfy, whatever the settings allow."""
    if t.width is None and t.height is None:
        raise BadTransform("a transform needs a width (w_) or a height (h_)")
    for name, value in (("w", t.width), ("h", t.height)):
        if value is not None and not 1 <= value <= MAX_SIZE:
            raise BadTransform(f"{name} must be between 1 and {MAX_SIZE}")
    if t.fit == "cover" and (t.width is None or t.height is None):
        raise BadTransform("fit_cover needs both w_ and h_")
    if t.gravity != "centre" and t.fit != "cover":
        raise BadTransform("g_ (gravity) only applies to fit_cover")
    if t.quality is not None and not 1 <= t.quality <= 100:
        raise BadTransform("q must be between 1 and 100")
    if t.quality is not None and t.format == "png":
        raise BadTransform("q does not apply to f_png (lossless)")
    if not 1.0 <= t.dpr <= 4.0:
        raise BadTransform("dpr must be between 1 and 4")


def _dpr_text(dpr: float) -> str:
    return f"{dpr:.2f}".rstrip("0").rstrip(".")


def serialize(t: Transform) -> str:
    parts: list[str] = []
    if t.width is not None:
        parts.append(f"w_{t.width}")
    if t.height is not None:
        parts.append(f"h_{t.height}")
    if t.fit != "contain":
        parts.append(f"fit_{t.fit}")
    if t.gravity != "centre":
        parts.append(f"g_{t.gravity}")
    if t.format != "auto":
        parts.append(f"f_{t.format}")
    if t.quality is not None:
        parts.append(f"q_{t.quality}")
    if t.dpr != 1.0:
        parts.append(f"dpr_{_dpr_text(t.dpr)}")
    if t.upscale:
        parts.append("up_1")
    return ",".join(parts)


def _int(key: str, text: str) -> int:
    if not _INT.match(text):
        raise BadTransform(f"{key}_ takes a positive whole number without leading zeros (got {text!r})")
    return int(text)


def _choice(key: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise BadTransform(f"{key}_ is one of {', '.join(allowed)} (got {text!r})")
    return text


@functools.lru_cache(maxsize=1024)
def parse_options(text: str) -> Transform:
    """The transform ``text`` spells, which must be its canonical spelling. Raises BadTransform."""
    if not text or len(text) > MAX_OPTIONS_LENGTH:
        raise BadTransform(f"the options are 1 to {MAX_OPTIONS_LENGTH} characters")
    values: dict[str, str] = {}
    last = -1
    for part in text.split(","):
        key, sep, value = part.partition("_")
        if not sep or not value:
            raise BadTransform(f"option {part[:20]!r} is not key_value")
        if key not in KEYS:
            raise BadTransform(f"unknown option {key[:10]!r}; known: {', '.join(KEYS)}")
        if key in values:
            raise BadTransform(f"option {key!r} is given twice")
        index = KEYS.index(key)
        if index < last:
            raise BadTransform(f"options go in the order {','.join(KEYS)}")
        last = index
        values[key] = value
    dpr_text = values.get("dpr")
    if dpr_text is not None and not _DPR.match(dpr_text):
        raise BadTransform(f"dpr_ takes a number such as 1.5 or 2 (got {dpr_text[:10]!r})")
    if values.get("up", "1") != "1":
        raise BadTransform("up_ takes only 1")
    transform = Transform(
        width=_int("w", values["w"]) if "w" in values else None,
        height=_int("h", values["h"]) if "h" in values else None,
        fit=_choice("fit", values.get("fit", "contain"), FITS),  # type: ignore[arg-type]
        gravity=_choice("g", values.get("g", "centre"), GRAVITIES),  # type: ignore[arg-type]
        format=_choice("f", values.get("f", "auto"), FORMATS),  # type: ignore[arg-type]
        quality=_int("q", values["q"]) if "q" in values else None,
        dpr=float(dpr_text) if dpr_text is not None else 1.0,
        upscale="up" in values,
    )
    canonical = serialize(transform)
    if canonical != text:
        raise BadTransform(f"the options are not in their one spelling; write {canonical!r}")
    return transform


def preset_name(text: str) -> str | None:
    """``thumb`` for ``p_thumb``; None when ``text`` is not a preset reference."""
    key, sep, name = text.partition("_")
    if key != PRESET_KEY or not sep:
        return None
    if not _NAME.match(name):
        raise BadTransform("a preset name is 1-32 of a-z 0-9 - (p_thumb)")
    return name
