"""On-demand renditions: signed, path-only ``/t/`` URLs rendered at request time.

Pure policy: parse and sign URLs, negotiate the format, decide the answer from the record.
No image engine, no web framework, no AWS: the runtimes serve what :func:`resolve` decides.
"""

from __future__ import annotations

from imgflow.ondemand.config import OnDemandSettings
from imgflow.ondemand.links import Links
from imgflow.ondemand.negotiate import choose_format, token_from_accept, token_of
from imgflow.ondemand.options import Transform, parse_options, serialize
from imgflow.ondemand.resolve import Redirect, Render, RenderJob, resolve
from imgflow.ondemand.signing import Signer
from imgflow.ondemand.urls import TransformUrl, parse_url

__all__ = [
    "Links",
    "OnDemandSettings",
    "Redirect",
    "Render",
    "RenderJob",
    "Signer",
    "Transform",
    "TransformUrl",
    "choose_format",
    "parse_options",
    "parse_url",
    "resolve",
    "serialize",
    "token_from_accept",
    "token_of",
]
