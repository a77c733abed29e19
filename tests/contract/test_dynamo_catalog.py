"""The DynamoDB catalog against moto server on 127.0.0.1: the Catalog contract and its table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.dynamo_schema import EVENTS_INDEX, GSI_NAME, TABLE_SCHEMA, create_table
from imgflow.adapters.dynamo_stale import STALE_INDEX, STALE_KEY
from imgflow.errors import Conflict, NotFound, StorageError
from imgflow.ports import Expect

from .aws import OperationLog, client, serial_moto, unique
from .catalog_contract import CatalogContract, make_record
from .tags_contract import TagsContract

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module")
def ddb(moto_endpoint: str) -> Any:
    return client("dynamodb", moto_endpoint)


@pytest.fixture(scope="module")
def ddb_raw(moto_endpoint: str) -> Any:
    """For the tests' own look-ups (not recorded as the adapter's operations)."""
    return client("dynamodb", moto_endpoint)


@pytest.fixture(scope="module")
def ddb_ops(ddb: Any) -> OperationLog:
    return OperationLog(ddb)


@pytest.fixture
def dynamo(ddb: Any, ddb_ops: OperationLog) -> Iterator[DynamoCatalog]:
    table = unique("imgflow-images")
    create_table(ddb, table)
    ddb_ops.names.clear()
    yield DynamoCatalog(ddb, table)
    undeclared = set(ddb_ops.names) - set(DynamoCatalog.BOTO_OPERATIONS)
    assert not undeclared, f"DynamoCatalog called operations it does not declare: {undeclared}"
    ddb.delete_table(TableName=table)


@pytest.fixture(scope="module")
def serial_ddb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serial_moto(tmp_path_factory.mktemp("serial-moto") / "moto.log") as url:
        yield client("dynamodb", url)


class TestDynamoCatalog(CatalogContract, TagsContract):
    @pytest.fixture
    def catalog(self, dynamo: DynamoCatalog) -> DynamoCatalog:
        return dynamo

    def test_racing_transition_has_one_winner(self, catalog: Any, serial_ddb: Any) -> None:
        """On a moto that serializes requests per server like DynamoDB does per item (see ``aws.SERIAL_MOTO``)."""
        table = unique("imgflow-race")
        create_table(serial_ddb, table)
        super().test_racing_transition_has_one_winner(DynamoCatalog(serial_ddb, table))


def test_every_method_declares_iam_actions() -> None:
    methods = {n for n in dir(DynamoCatalog) if not n.startswith("_") and callable(getattr(DynamoCatalog, n))}
    assert set(DynamoCatalog.IAM_ACTIONS) == methods
    declared = {a for actions in DynamoCatalog.IAM_ACTIONS.values() for a in actions}
    assert {a for actions in DynamoCatalog.BOTO_OPERATIONS.values() for a in actions} <= declared


def test_table_matches_schema_with_ttl(ddb_raw: Any, dynamo: DynamoCatalog) -> None:
    desc = ddb_raw.describe_table(TableName=dynamo.table)["Table"]
    assert desc["KeySchema"] == TABLE_SCHEMA["KeySchema"]
    assert {tuple(d.items()) for d in desc["AttributeDefinitions"]} == {
        tuple(d.items()) for d in TABLE_SCHEMA["AttributeDefinitions"]
    }
    indexes = {gsi["IndexName"]: gsi["KeySchema"] for gsi in desc["GlobalSecondaryIndexes"]}
    assert indexes == {gsi["IndexName"]: gsi["KeySchema"] for gsi in TABLE_SCHEMA["GlobalSecondaryIndexes"]}
    assert set(indexes) == {GSI_NAME, STALE_INDEX, EVENTS_INDEX}
    ttl = ddb_raw.describe_time_to_live(TableName=dynamo.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_item_is_the_record_with_numbers(ddb_raw: Any, dynamo: DynamoCatalog) -> None:
    rec = dynamo.create(make_record(created_at=1_700_000_000.25, expires_at=1_800_000_000, declared_size=10))
    item = ddb_raw.get_item(TableName=dynamo.table, Key={"image_id": {"S": rec.image_id}})["Item"]
    assert item["created_at"] == {"N": "1700000000.25"}
    assert item["expires_at"] == {"N": "1800000000"}
    assert item["owner"] == {"S": "alice"}
    assert "lease_token" not in item  # Nones are dropped, not stored as NULL


def test_transition_is_one_conditional_update(dynamo: DynamoCatalog, ddb_ops: OperationLog) -> None:
    rec = dynamo.create(make_record(status="queued"))
    ddb_ops.names.clear()
    dynamo.transition(rec.image_id, Expect(states={"queued"}), {"status": "processing", "lease_token": "t"})
    assert ddb_ops.names == ["UpdateItem"]
    ddb_ops.names.clear()
    with pytest.raises(Conflict):
        dynamo.transition(rec.image_id, Expect(states={"queued"}), {"status": "processing"})
    with pytest.raises(NotFound):
        dynamo.transition("absent", Expect(states={"queued"}), {"status": "processing"})
    # at most one extra consistent read per failed condition, only to tell NotFound from Conflict
    assert ddb_ops.names.count("UpdateItem") == 2
    assert set(ddb_ops.names) <= {"UpdateItem", "GetItem"}


def test_list_skips_filtered_pages(dynamo: DynamoCatalog) -> None:
    # many non-matching items between the matches: the query must keep reading
    for i in range(30):
        dynamo.create(make_record("fay", created_at=1_700_000_000.0 + i, status="done" if i % 10 == 0 else "failed"))
    page = dynamo.list("fay", status="done", limit=2)
    assert [r.created_at for r in page.items] == [1_700_000_020.0, 1_700_000_010.0]
    assert page.cursor is not None
    last = dynamo.list("fay", status="done", limit=2, cursor=page.cursor)
    assert [r.created_at for r in last.items] == [1_700_000_000.0]
    assert last.cursor is None


def test_missing_table_is_a_storage_error(ddb: Any) -> None:
    with pytest.raises(StorageError):
        DynamoCatalog(ddb, unique("absent")).get("x")


def test_stale_queries_a_sparse_index(ddb_raw: Any, dynamo: DynamoCatalog, ddb_ops: OperationLog) -> None:
    """Only records that can be stale are in the index (the key is set and removed with the status),
    and the sweep reads it with Query: the table is never scanned."""
    now = 1_700_001_000.0
    waiting = dynamo.create(make_record(status="awaiting_upload", updated_at=now - 500))
    done = dynamo.create(make_record(status="done", updated_at=now - 500))

    def key_of(image_id: str) -> Any:
        item = ddb_raw.get_item(TableName=dynamo.table, Key={"image_id": {"S": image_id}})["Item"]
        return item.get(STALE_KEY, {}).get("S")

    assert key_of(waiting.image_id).startswith("awaiting_upload#")
    assert key_of(done.image_id) is None
    dynamo.transition(waiting.image_id, Expect(states={"awaiting_upload"}), {"status": "queued"})
    assert key_of(waiting.image_id).startswith("queued#")
    dynamo.transition(waiting.image_id, Expect(states={"queued"}), {"status": "done"})
    assert key_of(waiting.image_id) is None
    ddb_ops.names.clear()
    assert dynamo.stale(now, older_than=now - 120) == []
    assert set(ddb_ops.names) == {"Query"}
    index = ddb_raw.scan(TableName=dynamo.table, IndexName=STALE_INDEX)
    assert index["Items"] == []  # sparse: nothing but records that can be stale
