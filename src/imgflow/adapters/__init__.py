"""Adapters: the ports over memory, a folder, SQLite, S3 and DynamoDB.

Nothing here connects at import; each adapter gets its client, path or
connection in ``__init__``. AWS adapters are imported from their own modules
(``imgflow.adapters.s3_store``) so local runs never import boto3.
"""
