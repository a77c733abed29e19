"""AWS Lambda entry points: ``api_handler``, ``processor``, ``reconciler``.

Thin on purpose. Importing a module wires nothing (no settings read, no boto3
client made); each builds its wiring once per container, on its first call.
"""
