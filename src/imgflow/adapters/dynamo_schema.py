"""The images table as DynamoDB holds it: its keys and indexes (template.yaml must declare the
same; the AWS tests compare the two), the table for tests and local development, and the item
codec (numbers as Decimal on the wire, plain ints and floats in records)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from imgflow.adapters.dynamo_stale import STALE_INDEX, STALE_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

GSI_NAME = "owner-created_at"
#: sparse: only records whose event is not published yet carry ``event_pending`` ("done" / "failed")
EVENTS_INDEX = "event_pending-updated_at"
TTL_ATTRIBUTE = "expires_at"

#: what template.yaml must declare for the table (the AWS tests compare the two)
TABLE_SCHEMA: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "image_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "image_id", "AttributeType": "S"},
        {"AttributeName": "owner", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "N"},
        {"AttributeName": "event_pending", "AttributeType": "S"},
        {"AttributeName": STALE_KEY, "AttributeType": "S"},
        {"AttributeName": "updated_at", "AttributeType": "N"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": GSI_NAME,
            "KeySchema": [
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": EVENTS_INDEX,
            "KeySchema": [
                {"AttributeName": "event_pending", "KeyType": "HASH"},
                {"AttributeName": "updated_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": STALE_INDEX,
            "KeySchema": [
                {"AttributeName": STALE_KEY, "KeyType": "HASH"},
                {"AttributeName": "updated_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

_SER = TypeSerializer()
_DE = TypeDeserializer()


def create_table(client: DynamoDBClient, name: str) -> None:
    """For tests and local development: the table as TABLE_SCHEMA says, with TTL on ``expires_at``."""
    client.create_table(TableName=name, **TABLE_SCHEMA)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(_to_dynamo(v)) for k, v in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_DE.deserialize(v)) for k, v in item.items()}
