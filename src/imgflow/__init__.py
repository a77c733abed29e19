"""imgflow: upload -> event -> process -> record, on AWS or on one machine."""

from __future__ import annotations

__version__ = "0.1.0"
