"""AWS Lambda entry points: ``api_handler``, ``processor``, ``reconciler``.

Thin on purpose. Importing a module wires nothing (no settings read, no boto3
client made); each builds its wiring once per container, on its first call.

Before any of them loads a compiled module, the artefact's recorded architecture is checked
against the machine's (:mod:`imgflow.runtimes.aws.artefact`): a mismatch names its cause.
"""

from __future__ import annotations

from imgflow.runtimes.aws.artefact import check_architecture

check_architecture()
