"""Create on moto what template.yaml declares: buckets, queues, the table, the S3 -> SQS notification.

Everything is read from the template (names, attributes, keys, the index, TTL,
the notification's events and prefix) and evaluated with its parameters'
defaults, so a change to the template changes what the end-to-end test runs
against. Bucket policies are not applied: moto does not evaluate them, and a
TLS-only policy means nothing over loopback HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from .cfn import ACCOUNT, REGION, Evaluator, load_template


@dataclass
class Stack:
    evaluator: Evaluator
    endpoint: str
    buckets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The environment the template gives a function (Globals + its own), pointed at moto."""
        template = self.evaluator.template
        env: dict[str, Any] = dict(
            template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        env.update(own)
        resolved = self.evaluator.eval(env)
        resolved["IMGFLOW_AWS_ENDPOINT_URL"] = self.endpoint
        return {k: str(v) for k, v in resolved.items()}


def clients(endpoint: str) -> dict[str, Any]:
    s3_config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    common: dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION}
    return {
        "s3": boto3.client("s3", config=s3_config, **common),
        "sqs": boto3.client("sqs", **common),
        "dynamodb": boto3.client("dynamodb", **common),
    }


def _queue_attributes(props: dict[str, Any]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
        if name in props:
            attrs[name] = str(props[name])
    if "SqsManagedSseEnabled" in props:
        attrs["SqsManagedSseEnabled"] = str(props["SqsManagedSseEnabled"]).lower()
    if "RedrivePolicy" in props:
        attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    return attrs


def _create_queues(ev: Evaluator, sqs: Any, stack: Stack) -> None:
    pending = dict(ev.resources("AWS::SQS::Queue"))
    while pending:  # a queue's redrive policy names its DLQ: create the DLQs first
        for logical, resource in list(pending.items()):
            try:
                props = ev.eval(resource.get("Properties", {}))
            except KeyError:
                continue
            name = f"{ev.stack_name}-{logical}"
            url = sqs.create_queue(QueueName=name, Attributes=_queue_attributes(props))["QueueUrl"]
            ev.physical[logical] = url
            ev.attributes[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            ev.attributes[(logical, "QueueName")] = name
            stack.queues[logical] = url
            del pending[logical]
    for resource in ev.resources("AWS::SQS::QueuePolicy").values():
        props = ev.eval(resource["Properties"])
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})


def _create_buckets(ev: Evaluator, s3: Any, stack: Stack) -> None:
    buckets = ev.resources("AWS::S3::Bucket")
    for logical, resource in buckets.items():
        name = ev.eval(resource["Properties"]["BucketName"])
        ev.physical[logical] = name
        ev.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"
        ev.attributes[(logical, "RegionalDomainName")] = f"{name}.s3.{REGION}.amazonaws.com"
        stack.buckets[logical] = name
    for logical, resource in buckets.items():
        props = ev.eval(resource["Properties"])
        name = stack.buckets[logical]
        s3.create_bucket(Bucket=name)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            rules = [
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "CorsConfiguration" in props:
            renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
            cors = [{renamed.get(k, k): v for k, v in r.items()} for r in props["CorsConfiguration"]["CorsRules"]]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        if "LifecycleConfiguration" in props:
            actions = ("AbortIncompleteMultipartUpload", "NoncurrentVersionExpiration")
            rules = [
                {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")},
                 **{a: r[a] for a in actions if a in r}}
                for r in props["LifecycleConfiguration"]["Rules"]
            ]  # fmt: skip
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        notification = props.get("NotificationConfiguration")
        if notification:
            queues = [
                {
                    "QueueArn": q["Queue"],
                    "Events": [q["Event"]],
                    "Filter": {"Key": {"FilterRules": [
                        {"Name": r["Name"], "Value": r["Value"]} for r in q["Filter"]["S3Key"]["Rules"]
                    ]}},
                }
                for q in notification.get("QueueConfigurations", [])
            ]  # fmt: skip
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
            )


def _create_tables(ev: Evaluator, dynamodb: Any, stack: Stack) -> None:
    for logical, resource in ev.resources("AWS::DynamoDB::Table").items():
        props = ev.eval(resource["Properties"])
        name = f"{ev.stack_name}-{logical}"
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props["BillingMode"],
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        ev.physical[logical] = name
        ev.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        stack.tables[logical] = name


def provision(endpoint: str, *, parameters: dict[str, str], stack_name: str) -> Stack:
    ev = Evaluator(load_template(), parameters=parameters, stack_name=stack_name)
    stack = Stack(evaluator=ev, endpoint=endpoint)
    c = clients(endpoint)
    _create_queues(ev, c["sqs"], stack)
    _create_tables(ev, c["dynamodb"], stack)
    _create_buckets(ev, c["s3"], stack)
    return stack
