"""Where and when the figures were taken."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def describe() -> dict[str, Any]:
    import pyvips
    from PIL import features

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "absent"

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
        "pyvips": version("pyvips"),
        "pyvips_binary": version("pyvips-binary"),
        "pillow": version("pillow"),
        "libjpeg_turbo": features.version("jpg"),
        "libwebp": features.version("webp"),
        "imgflow_webp": _imgflow_webp(),
        "load_before": load(),
    }


def _imgflow_webp() -> str:
    """Which encoder imgflow's WebP renditions go through on this machine."""
    from imgflow.processing import libwebp

    found = libwebp.version()
    return f"Pillow's libwebp {found}" if found else "libvips' webpsave"
