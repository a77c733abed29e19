"""SqsNotifier: the message it sends is one the processor's parser takes; it declares what it calls.

The shape tests are pure; the rest run against moto server on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from imgflow.adapters.memory import MemoryCatalog, MemoryObjectStore
from imgflow.adapters.sqs_notifier import EVENT_NAME, SqsNotifier, s3_notification
from imgflow.bootstrap import Adapters, AwsClients, aws_clients, build_service
from imgflow.errors import StorageError
from imgflow.records import ImageRecord
from imgflow.runtimes.aws import events
from imgflow.settings import load_settings

from .provision import clients

AWKWARD = "Holiday 2024+ café ☕.png"  # an operator's copy keeps its name as its id


def _record(image_id: str = "01J9Z6K3M7Q2W8V4T0R5N1B6XC", **changes: Any) -> ImageRecord:
    base: dict[str, Any] = {
        "image_id": image_id,
        "owner": "user-1",
        "status": "queued",
        "created_at": 1_767_225_600.0,
        "updated_at": 1_767_225_700.5,
        "size": 51234,
        "etag": "9b2cf535f27731c974343645a3985328",
        "generation": 2,
    }
    return ImageRecord(**{**base, **changes})


def _as_sqs_record(body: dict[str, Any]) -> SQSRecord:
    return SQSRecord({"messageId": "m-1", "body": json.dumps(body), "eventSource": "aws:sqs"})


@pytest.mark.parametrize("image_id", ["01J9Z6K3M7Q2W8V4T0R5N1B6XC", AWKWARD])
def test_the_processors_parser_takes_the_message(image_id: str) -> None:
    record = _record(image_id)
    body = s3_notification(record, bucket="uploads-b", region="eu-west-1")
    assert events.shape_of(body) == "s3"
    (event,) = events.from_sqs_record(_as_sqs_record(json.loads(json.dumps(body))))
    assert event == events.ObjectEvent(
        kind="created", bucket="uploads-b", key=f"originals/{image_id}", etag=record.etag, name=EVENT_NAME
    )
    (raw,) = body["Records"]
    assert raw["awsRegion"] == "eu-west-1"
    assert raw["eventTime"].startswith("2026-01-01T00:01:40.500")
    assert raw["s3"]["object"]["size"] == record.size


def test_keys_are_form_encoded_as_s3_encodes_them() -> None:
    (raw,) = s3_notification(_record(AWKWARD), bucket="b")["Records"]
    key = raw["s3"]["object"]["key"]
    assert key.startswith("originals/")  # the slash is kept
    assert " " not in key
    assert "+" in key  # a space ...
    assert "%2B" in key  # ... and a literal plus stay apart
    assert "awsRegion" not in raw  # unknown region: left out, not made up


def test_every_method_declares_iam_actions() -> None:
    methods = {n for n in dir(SqsNotifier) if not n.startswith("_") and callable(getattr(SqsNotifier, n))}
    assert set(SqsNotifier.IAM_ACTIONS) == methods
    declared = {a for actions in SqsNotifier.IAM_ACTIONS.values() for a in actions}
    assert {a for actions in SqsNotifier.BOTO_OPERATIONS.values() for a in actions} == declared
    assert declared == {"sqs:SendMessage"}


@pytest.fixture(scope="module")
def sqs(moto_endpoint: str, aws_env: dict[str, str]) -> Any:
    return clients(moto_endpoint)["sqs"]


def _called(client: Any) -> list[str]:
    names: list[str] = []

    def record(model: Any, **_: Any) -> None:
        names.append(model.name)

    client.meta.events.register("before-call.sqs.*", record)
    return names


@pytest.mark.moto
def test_sends_one_message_and_only_declared_operations(moto_endpoint: str, aws_env: dict[str, str]) -> None:
    own = clients(moto_endpoint)["sqs"]  # the adapter's own client: the hook sees only its calls
    queue_url = own.create_queue(QueueName=f"notify-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    called = _called(own)
    notifier = SqsNotifier(own, queue_url, bucket="uploads-b")
    record = _record(AWKWARD)
    notifier(record)
    assert set(called) <= set(SqsNotifier.BOTO_OPERATIONS)
    assert called == ["SendMessage"]
    got = own.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert len(got) == 1
    body = json.loads(got[0]["Body"])
    assert body == s3_notification(record, bucket="uploads-b", region="us-east-1")
    (event,) = events.from_sqs_record(_as_sqs_record(body))
    assert event.key == f"originals/{AWKWARD}"


@pytest.mark.moto
def test_a_missing_queue_is_a_storage_error_and_reprocess_still_answers(
    sqs: Any, moto_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    gone = f"{moto_endpoint}/123456789012/no-such-queue-{uuid.uuid4().hex[:8]}"
    notifier = SqsNotifier(sqs, gone, bucket="uploads-b")
    with pytest.raises(StorageError):
        notifier(_record())

    catalog = MemoryCatalog()
    catalog.create(_record(status="done", generation=1))
    store = MemoryObjectStore()
    svc = build_service(
        load_settings(environ={}),
        adapters=Adapters(originals=store, renditions=store, catalog=catalog),
        on_queued=notifier,
    )
    with caplog.at_level(logging.ERROR, logger="imgflow.service"):
        queued = svc.reprocess("user-1", _record().image_id)
    assert (queued.status, queued.generation) == ("queued", 2)  # left for the reconcile sweep
    assert catalog.get(queued.image_id).status == "queued"
    assert any("reconcile" in r.getMessage() for r in caplog.records)


def test_build_service_wires_the_notifier_only_with_a_queue_url(tmp_path: Any) -> None:
    """No network: boto3 clients connect on their first call, and none is made here."""
    env = {"IMGFLOW_BACKEND": "aws", "AWS_DEFAULT_REGION": "us-east-1"}
    plain = load_settings(environ=env, data_dir=tmp_path)
    queued = load_settings(environ={**env, "IMGFLOW_QUEUE_URL": "https://sqs.example/1/q"}, data_dir=tmp_path)
    assert build_service(plain, with_processor=False).on_queued is None
    assert aws_clients(plain).sqs is None

    made = aws_clients(queued)
    assert made.sqs is not None
    svc = build_service(queued, with_processor=False, clients=made)
    notifier = svc.on_queued
    assert isinstance(notifier, SqsNotifier)
    assert (notifier.client, notifier.queue_url, notifier.bucket) == (made.sqs, queued.queue_url, "imgflow-uploads")
    # clients passed without sqs: one is made from the settings
    without = AwsClients(s3=made.s3, dynamodb=made.dynamodb)
    assert isinstance(build_service(queued, with_processor=False, clients=without).on_queued, SqsNotifier)

    def mine(record: ImageRecord) -> None:
        raise AssertionError("never called here")

    assert build_service(queued, with_processor=False, on_queued=mine).on_queued is mine  # an explicit hook wins
