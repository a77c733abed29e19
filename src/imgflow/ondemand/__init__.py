"""On-demand renditions: signed, path-only ``/t/`` URLs rendered at request time.

Pure policy: parse and sign URLs, negotiate the format, decide the answer from the record.
No image engine, no web framework, no AWS: the runtimes serve what :func:`resolve` decides.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imgflow.ondemand.config import OnDemandSettings
    from imgflow.ondemand.links import Links
    from imgflow.ondemand.negotiate import choose_format, token_from_accept, token_of
    from imgflow.ondemand.options import Transform, parse_options, serialize
    from imgflow.ondemand.resolve import Redirect, Render, RenderJob, resolve
    from imgflow.ondemand.signing import Signer
    from imgflow.ondemand.urls import TransformUrl, parse_url

#: each name's module, imported on first use: the settings need only ``config``, and a command
#: that reads them (``imgflow process``) should not pay for the links, records and ports. Import
#: ``resolve`` from ``imgflow.ondemand.resolve``: once that module is loaded, the package's
#: attribute of that name is the module, and this lazy lookup is not asked.
_WHERE = {
    "OnDemandSettings": "config",
    "Links": "links",
    "choose_format": "negotiate",
    "token_from_accept": "negotiate",
    "token_of": "negotiate",
    "Transform": "options",
    "parse_options": "options",
    "serialize": "options",
    "Redirect": "resolve",
    "Render": "resolve",
    "RenderJob": "resolve",
    "resolve": "resolve",
    "Signer": "signing",
    "TransformUrl": "urls",
    "parse_url": "urls",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
