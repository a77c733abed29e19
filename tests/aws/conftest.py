"""The AWS shape on moto: resources from template.yaml, the Lambda handlers wired from its environment."""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.eventbridge import EventBridgePublisher
from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.adapters.sqs_notifier import SqsNotifier
from imgflow.adapters.sqs_redelivery import SqsRedelivery
from imgflow.runtimes.aws import api_handler, processor, reconciler
from imgflow.runtimes.aws.permissions import KEY_PREFIXES, actions_on
from imgflow.service import ImageService

from .cfn import ACCOUNT, REGION
from .lambda_events import FakeContext, http_api_event, sqs_event
from .provision import Stack, clients, provision
from .test_template import FUNCTION_ADAPTERS

HANDLERS = (api_handler, processor, reconciler)


#: every botocore operation the adapters call -> the IAM actions it needs
OPERATIONS: dict[str, tuple[str, ...]] = {
    op: actions
    for adapter in (S3ObjectStore, DynamoCatalog, SqsNotifier, SqsRedelivery, EventBridgePublisher)
    for op, actions in adapter.BOTO_OPERATIONS.items()
}


@dataclass
class Guard:
    """A botocore hook on every client of a function's wiring, before each call (and each presigned
    URL) is built: it fails unless the function's role is granted the operation's IAM actions on
    the resource the call names (imgflow.runtimes.aws.permissions, which test_template pins the
    template's roles to)."""

    stack: Stack
    violations: list[str] = field(default_factory=list)
    guarded: set[int] = field(default_factory=set)
    hooked: set[int] = field(default_factory=set)

    def _resource(self, params: dict[str, Any]) -> str | None:
        by_name = {
            **{v: k for k, v in self.stack.buckets.items()},
            **{v: k for k, v in self.stack.tables.items()},
            **{v: k for k, v in self.stack.queues.items()},
        }
        for name in ("Bucket", "TableName", "QueueUrl"):
            if name in params:
                return by_name.get(params[name])
        buses = {e.get("EventBusName", "default") for e in params.get("Entries", [])}
        if buses:
            return "EventBus" if buses == {self.stack.evaluator.parameters["EventBusName"]} else None
        return None

    def _check(self, function: str, model: Any, params: dict[str, Any], context: Any = None, **_: Any) -> None:
        resource = self._resource(params)
        name = model.name
        if name == "CreateBucket" and (context or {}).get("is_presign_request"):
            name = "PutObject"  # botocore builds a presigned POST on CreateBucket's model; S3 checks PutObject
        needed = set(OPERATIONS.get(name, (f"undeclared:{name}",)))
        granted = actions_on(function, resource) if resource is not None else frozenset()
        if not needed <= granted:
            self.violations.append(f"{function} called {name} on {resource}: needs {sorted(needed - granted)}")
            raise AssertionError(self.violations[-1])
        # object actions are granted under the bucket's key prefix only; listings name a prefix
        key = params.get("Key", params.get("Prefix"))
        prefix = KEY_PREFIXES.get(resource or "")
        if prefix is not None and isinstance(key, str) and not key.startswith(prefix):
            self.violations.append(f"{function} called {name} on {resource} for {key!r}, outside {prefix}")
            raise AssertionError(self.violations[-1])

    def watch(self, service: ImageService, function: str, *extra: Any) -> None:
        adapters: list[Any] = [service.originals, service.renditions, service.catalog, *extra]
        if service.on_queued is not None:
            adapters.append(service.on_queued)
        if service.publisher is not None:
            adapters.append(service.publisher)
        # exactly the adapters whose IAM actions test_template grants the function's role
        assert {type(a) for a in adapters} == FUNCTION_ADAPTERS[function], [type(a) for a in adapters]
        for adapter in adapters:
            self.guarded.add(id(adapter))
            client: Any = getattr(adapter, "client")  # noqa: B009
            if id(client) in self.hooked:  # the two stores share one S3 client
                continue
            self.hooked.add(id(client))
            client.meta.events.register("before-parameter-build", functools.partial(self._check, function))


@dataclass
class Deployed:
    stack: Stack
    guard: Guard
    aws: dict[str, Any]
    context: FakeContext = field(default_factory=FakeContext)

    @property
    def uploads(self) -> str:
        return self.stack.buckets["UploadsBucket"]

    @property
    def renditions(self) -> str:
        return self.stack.buckets["RenditionsBucket"]

    @property
    def queue_url(self) -> str:
        return self.stack.queues["UploadsQueue"]

    @property
    def queue_arn(self) -> str:
        name = self.queue_url.rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    @property
    def service(self) -> ImageService:
        return processor.wiring().service

    def api(self, method: str, path: str, body: Any = None, sub: str | None = "user-1") -> tuple[int, Any]:
        response = api_handler.handler(http_api_event(method, path, body=body, sub=sub), self.context)
        text = response.get("body") or ""
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return response["statusCode"], (httpx.Response(200, text=text).json() if text else None)

    def upload(self, data: bytes, content_type: str, filename: str = "photo", sub: str = "user-1") -> str:
        """POST /v1/uploads through the API handler, then the presigned form POST straight to S3."""
        status, created = self.api(
            "POST", "/v1/uploads", {"filename": filename, "content_type": content_type, "size": len(data)}, sub
        )
        assert status == 201, created
        grant = created["upload"]
        files = {grant["file_field"]: (filename, data, content_type)}
        response = httpx.post(grant["url"], data=grant["fields"], files=files, timeout=30)
        assert response.status_code in (200, 201, 204), response.text
        image_id: str = created["image"]["image_id"]
        return image_id

    def receive(self, *, expect: int, tries: int = 20) -> list[dict[str, Any]]:
        """Messages S3's notifications put on the queue (what the event source would poll)."""
        got: list[dict[str, Any]] = []
        for _ in range(tries):
            resp = self.aws["sqs"].receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            )
            got += resp.get("Messages", [])
            if len(got) >= expect:
                break
        return got

    def deliver(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Invoke the processor with these messages, then delete those it did not report (as Lambda does)."""
        result = processor.handler(sqs_event(messages, self.queue_arn), self.context)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                self.aws["sqs"].delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return result

    def drain(self) -> None:
        """Drop what is waiting (PurgeQueue is allowed once a minute only)."""
        while True:
            resp = self.aws["sqs"].receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not resp.get("Messages"):
                return
            for m in resp["Messages"]:
                self.aws["sqs"].delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


@contextlib.contextmanager
def _environment(stack: Stack, function: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in stack.function_environment(function).items():
            mp.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def deployed(
    moto_endpoint: str, aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    prefix = "e2e" + uuid.uuid4().hex[:10]
    stack = provision(
        moto_endpoint, parameters={"NamePrefix": prefix, "RenditionDelivery": "presigned"}, stack_name=prefix
    )
    env = stack.function_environment("ProcessorFunction")
    # the artefact's fonts live under /var/task on Lambda; here the machine's fontconfig serves
    # (tests/aws/test_sam_build.py renders with the shipped fonts.conf)
    assert env.pop("FONTCONFIG_FILE").startswith("/var/task/")
    assert env.pop("FONTCONFIG_PATH").startswith("/var/task/")
    api_env = stack.function_environment("ApiFunction")
    sweep_env = stack.function_environment("ReconcilerFunction")
    assert api_env.pop("IMGFLOW_QUEUE_URL") == stack.queues["UploadsQueue"]  # the API announces reprocessing
    assert api_env.pop("IMGFLOW_CORS_ORIGINS") == '["*"]'  # the API answers browsers' preflight
    assert sweep_env.pop("IMGFLOW_QUEUE_URL") == stack.queues["UploadsQueue"]  # the sweep re-drives through it
    assert int(sweep_env.pop("IMGFLOW_RECONCILE_GRACE_SECONDS")) > 0
    # the processor and the sweep publish image events; the API ends no image
    assert env.pop("IMGFLOW_EVENT_BUS_NAME") == sweep_env.pop("IMGFLOW_EVENT_BUS_NAME") == "default"
    assert "IMGFLOW_EVENT_BUS_NAME" not in api_env
    # the API and the processor follow the recipes YAML; the sweep makes nothing from recipes
    for name in ("IMGFLOW_CONFIG_BUCKET", "IMGFLOW_CONFIG_KEY"):
        assert env.pop(name) == api_env.pop(name)
        assert name not in sweep_env
    assert env == api_env == sweep_env
    workdir: Path = tmp_path_factory.mktemp("lambda-task")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("IMGFLOW_")]:
            mp.delenv(name)
        mp.chdir(workdir)  # as in /var/task: no imgflow.yaml around, settings come from the environment
        for module in HANDLERS:
            module.wiring.cache_clear()
        guard = Guard(stack)
        # each function's wiring is built once, from its own environment, as in its own container
        with _environment(stack, "ApiFunction"):
            guard.watch(api_handler.wiring().app.state.service, "ApiFunction")
        with _environment(stack, "ReconcilerFunction"):
            guard.watch(reconciler.wiring(), "ReconcilerFunction")
        for name, value in stack.function_environment("ProcessorFunction").items():
            mp.setenv(name, value)
        guard.watch(processor.wiring().service, "ProcessorFunction", processor.wiring().redelivery)
        yield Deployed(stack=stack, guard=guard, aws=clients(moto_endpoint))
        for module in HANDLERS:
            module.wiring.cache_clear()
