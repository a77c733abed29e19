"""Lambda events as AWS sends them, built from real inputs (received SQS messages, corpus samples)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from .cfn import ACCOUNT, REGION


@dataclass(frozen=True)
class FakeContext:
    """The attributes of a LambdaContext that powertools reads."""

    function_name: str = "imgflow-test-function"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:imgflow-test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def http_api_event(method: str, path: str, *, body: Any = None, sub: str | None = "user-1") -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2.0) request, with the JWT authorizer's claims."""
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": "imgflowapi",
        "domainName": "imgflowapi.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "imgflowapi",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": 1767225600000,
    }
    if sub is not None:
        context["authorizer"] = {
            "jwt": {"claims": {"sub": sub, "iss": "https://issuer.example", "aud": "imgflow"}, "scopes": None}
        }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": context["domainName"], "authorization": "Bearer x"},
        "requestContext": context,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What the SQS event source hands the function for messages received from the queue."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def load(corpus: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / "events" / name).read_text(encoding="utf-8"))
    return data


def _encode_like(sample_key: str, key: str) -> str:
    """Encode ``key`` the way the sample encodes its own (``%20`` / ``+`` for spaces, or plain)."""
    if "%" in sample_key:
        return quote(key, safe="/")
    if "+" in sample_key:
        return quote_plus(key, safe="/")
    return key


def rewrite(sample: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """The sample with its bucket and key replaced by a real object, in the sample's own encoding."""
    event = copy.deepcopy(sample)
    if "detail" in event:  # EventBridge
        event["detail"]["bucket"]["name"] = bucket
        event["resources"] = [f"arn:aws:s3:::{bucket}"]
        event["detail"]["object"]["key"] = _encode_like(event["detail"]["object"]["key"], key)
        return event
    for record in event["Records"]:
        if record.get("eventSource") == "aws:sqs":
            record["body"] = json.dumps(rewrite(json.loads(record["body"]), bucket, key))
            continue
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        record["s3"]["object"]["key"] = _encode_like(record["s3"]["object"]["key"], key)
    return event


def render_sam_template(text: str, **values: str) -> dict[str, Any]:
    """SAM CLI's sample events are mustache templates: ``{{{name}}}`` placeholders."""
    for name, value in values.items():
        text = text.replace("{{{" + name + "}}}", value)
    data: dict[str, Any] = json.loads(text)
    return data
