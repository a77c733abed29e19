"""The artefact a function runs from: built for this machine's architecture?

``packaging/package.py`` writes ``imgflow-build.json`` at the artefact's root. A function
whose ``Architectures`` differ from the build's (``sam build`` and ``sam deploy`` given
different ``Architecture`` values) would otherwise fail on an obscure ImportError from a
compiled module; this names the cause first. Absent file (a source checkout): nothing to check.
"""

from __future__ import annotations

import json
import os

from imgflow.errors import ConfigError

STAMP = "imgflow-build.json"
#: what os.uname() says -> the Lambda architecture name
_MACHINES = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
#: the artefact's root: imgflow/runtimes/aws/ is three levels below it
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def check_architecture(root: str = ROOT, machine: str | None = None) -> None:
    path = os.path.join(root, STAMP)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        built = json.load(f).get("architecture")
    running = _MACHINES.get(machine or os.uname().machine, machine)
    if built != running:
        raise ConfigError(
            f"this artefact was built for {built} but the function runs on {running}: sam build and sam deploy "
            "must get the same Architecture parameter (docs/deploy-aws.md, Build)"
        )
