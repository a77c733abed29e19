"""template.yaml: lint-clean, SAM-translatable, checkov-clean, and wired to the code it deploys."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.dynamo_schema import GSI_NAME, TABLE_SCHEMA
from imgflow.adapters.dynamo_stale import STALE_INDEX
from imgflow.adapters.eventbridge import EventBridgePublisher
from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.adapters.secret_keys import SecretKeys
from imgflow.adapters.sqs_notifier import SqsNotifier
from imgflow.adapters.sqs_redelivery import SqsRedelivery
from imgflow.records import original_key, rendition_prefix
from imgflow.runtimes.aws.permissions import EXTRA_POLICY_USES, FUNCTION_USES, KEY_PREFIXES, actions_on, grants
from imgflow.settings import Settings

from .cfn import ROOT, TEMPLATE, Evaluator, load_packaging, load_template

FUNCTIONS = ("ApiFunction", "ProcessorFunction", "ReconcilerFunction", "TransformFunction")
#: the adapters each function's wiring builds (bootstrap.build_service on the aws backend;
#: the e2e guard checks the built wiring against this). The API and the reconciler send the
#: processors' queue messages (reprocess; the sweep's re-drives); the processor never does.
FUNCTION_ADAPTERS: dict[str, set[type]] = {
    "ApiFunction": {S3ObjectStore, DynamoCatalog, SqsNotifier},
    "ProcessorFunction": {S3ObjectStore, DynamoCatalog, SqsRedelivery, EventBridgePublisher},
    "ReconcilerFunction": {S3ObjectStore, DynamoCatalog, SqsNotifier, EventBridgePublisher},
    "TransformFunction": {S3ObjectStore, DynamoCatalog, SecretKeys},
}
#: the resources an action's service may be granted on (logical ids in the statement's Resource)
RESOURCES_BY_SERVICE = {
    "s3": ("UploadsBucket", "RenditionsBucket", "ConfigBucket"),
    "dynamodb": ("ImagesTable",),
    "sqs": ("UploadsQueue",),
    "events": ("EventBus",),
    "logs": ("ApiLogGroup", "ProcessorLogGroup", "ReconcilerLogGroup", "TransformLogGroup"),
    "secretsmanager": ("TransformKeysSecret",),
}
#: the bus the EventBusName parameter names (not a resource of the stack: the default bus, or yours)
EVENT_BUS_ARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def translated(template: dict[str, Any], monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    """The template as ``sam deploy`` hands it to CloudFormation (CodeUri as ``sam package`` rewrites it)."""
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    packaged = copy.deepcopy(template)
    packaged["Globals"]["Function"]["CodeUri"] = "s3://artefacts/imgflow.zip"
    out: dict[str, Any] = transform(packaged, {}, _NoManagedPolicies())
    return out


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_cfn_lint_is_clean() -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    exe = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(exe), str(TEMPLATE)], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_is_clean() -> None:
    exe = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not exe.exists():
        pytest.fail("checkov is not installed in .venv-checkov (make setup installs it)")
    cmd = [str(exe), "-f", str(TEMPLATE), "--framework", "cloudformation", "--skip-download", "-o", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "LOG_LEVEL": "ERROR"})
    report = json.loads(proc.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report.get("results", {}).get("failed_checks", [])]
    assert not failed, failed
    assert proc.returncode == 0, proc.stderr
    skipped = report["results"]["skipped_checks"]
    assert skipped, "checkov saw no skips: did it read the template?"
    # every skip carries a written reason
    assert all(len(c["check_result"].get("suppress_comment", "")) > 20 for c in skipped), [
        c["check_id"] for c in skipped
    ]


def test_sam_translates_offline(translated: dict[str, Any]) -> None:
    types = {r["Type"] for r in translated["Resources"].values()}
    assert "AWS::Lambda::Function" in types
    assert not any(t.startswith("AWS::Serverless::") for t in types)


def _role_statements(translated: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = translated["Resources"][f"{function}Role"]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn(resource: Any) -> tuple[str, str]:
    """(logical id, suffix) of a Resource: ``!GetAtt X.Arn``, ``!Sub "${X.Arn}/..."``, or ``!Ref X``
    for a resource whose Ref is its ARN (a secret)."""
    if isinstance(resource, dict) and set(resource) == {"Ref"} and resource["Ref"] == "TransformKeysSecret":
        return resource["Ref"], ""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        logical, attribute = target if isinstance(target, list) else target.split(".", 1)
        assert attribute == "Arn", resource
        return logical, ""
    if resource == {"Fn::Sub": EVENT_BUS_ARN}:
        return "EventBus", ""
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.*)?", resource["Fn::Sub"])
        assert match, resource
        return match[1], match[2] or ""
    raise AssertionError(f"not an ARN of the stack's resources: {resource}")


def _granted(statements: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(*_arn(r), a) for s in statements for r in _as_list(s["Resource"]) for a in _as_list(s["Action"])}


def test_the_declared_uses_are_the_wired_adapters() -> None:
    for function, uses in FUNCTION_USES.items():
        assert {u.adapter for u in uses} == FUNCTION_ADAPTERS[function], function
        for use in uses:
            assert set(use.methods) <= set(use.adapter.IAM_ACTIONS), use  # methods the adapter has


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_gets_exactly_what_its_code_calls(translated: dict[str, Any], function: str) -> None:
    """Per function and per resource (and per ARN: objects, bucket, table, index): the actions
    imgflow.runtimes.aws.permissions derives from the adapter methods the function calls."""
    statements = _role_statements(translated, function)
    assert statements
    assert all(s["Effect"] == "Allow" for s in statements)
    assert _granted(statements) == set(grants(function))
    for s in statements:
        actions = _as_list(s["Action"])
        assert not any("*" in a for a in actions)
        (service,) = {a.split(":", 1)[0] for a in actions}  # one service per statement
        assert {_arn(r)[0] for r in _as_list(s["Resource"])} <= set(RESOURCES_BY_SERVICE[service]), s
    role = translated["Resources"][f"{function}Role"]["Properties"]
    assert not role.get("ManagedPolicyArns")  # AWS managed policies grant logs and SQS on *
    assert translated["Resources"][function]["Properties"]["Role"] == {"Fn::GetAtt": [f"{function}Role", "Arn"]}


def test_no_role_but_the_functions_own_and_nothing_on_star(translated: dict[str, Any]) -> None:
    roles = {k for k, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles == {f"{f}Role" for f in FUNCTIONS}
    assert not any(r["Type"] == "AWS::IAM::ManagedPolicy" for r in translated["Resources"].values())
    for function in FUNCTIONS:
        for statement in _role_statements(translated, function):
            assert "*" not in json.dumps(statement["Resource"]).replace("/*", ""), statement
    # each function writes only the log group it logs to
    for function in FUNCTIONS:
        group = translated["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]
        logs = [s for s in _role_statements(translated, function) if _as_list(s["Action"])[0].startswith("logs:")]
        assert [_arn(s["Resource"])[0] for s in logs] == [group["Ref"]]


def test_least_privilege_where_it_matters() -> None:
    """The review's cases, spelled out: no request path scans, the API never writes renditions,
    the processor never deletes a record, only the sweep scans."""
    assert "dynamodb:Scan" not in actions_on("ApiFunction", "ImagesTable")
    assert "s3:PutObject" not in actions_on("ApiFunction", "RenditionsBucket")
    assert not {"dynamodb:Scan", "dynamodb:DeleteItem"} & actions_on("ProcessorFunction", "ImagesTable")
    # it never writes an original; it deletes one only when an upload lands after its DELETE
    assert "s3:PutObject" not in actions_on("ProcessorFunction", "UploadsBucket")
    assert not actions_on("ReconcilerFunction", "RenditionsBucket")
    # nothing scans the table: the sweep queries the sparse index of records that can be stale
    for function in FUNCTIONS:
        assert not any(a == "dynamodb:Scan" for _, _, a in grants(function)), function
    assert ("ImagesTable", f"/index/{STALE_INDEX}", "dynamodb:Query") in grants("ReconcilerFunction")
    assert ("ImagesTable", f"/index/{GSI_NAME}", "dynamodb:Query") in grants("ApiFunction")
    # the processor deletes an original that lands after its image was deleted (the docs' table says so)
    assert "s3:DeleteObject" in actions_on("ProcessorFunction", "UploadsBucket")
    # object actions only under the keys imgflow writes
    assert original_key("01ID").startswith(KEY_PREFIXES["UploadsBucket"])
    assert rendition_prefix("01ID", 3).startswith(KEY_PREFIXES["RenditionsBucket"])
    assert all(suffix in ("", "/originals/*") for r, suffix, _ in grants("ApiFunction") if r == "UploadsBucket")
    # a missing original must read as 404 (not 403) wherever the code checks for one
    for function in ("ProcessorFunction", "ReconcilerFunction"):
        assert ("UploadsBucket", "", "s3:ListBucket") in grants(function)


def test_handlers_import_and_env_vars_are_settings(template: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    for function in FUNCTIONS:
        props = template["Resources"][function]["Properties"]
        module_name, _, attr = props["Handler"].rpartition(".")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attr))
        names = {**env, **props.get("Environment", {}).get("Variables", {})}
        for name in names:
            if name.startswith("IMGFLOW_"):
                top, _, nested = name.removeprefix("IMGFLOW_").lower().partition("__")
                assert top in fields, name
                if nested:
                    assert nested in Settings.model_fields[top].annotation.model_fields, name  # type: ignore[union-attr]
    assert env["IMGFLOW_BACKEND"] == "aws"


def test_functions_build_through_the_makefile(template: dict[str, Any]) -> None:
    """sam build runs each target in packaging/<Architecture>: the architecture the functions run on
    is the one the build reads (tests/aws/test_sam_build.py builds both)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for function in FUNCTIONS:
        metadata = template["Resources"][function]["Metadata"]
        assert metadata["BuildMethod"] == "makefile"
        assert metadata["WorkingDirectory"] == {"Fn::Sub": "packaging/${Architecture}"}
        assert (ROOT / metadata["ContextPath"] / "Makefile").is_file()
        assert re.search(rf"^(build-\S+ )*build-{function}\b.*:", makefile, re.M), function
    assert template["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    for arch in template["Parameters"]["Architecture"]["AllowedValues"]:
        assert (ROOT / "packaging" / arch).is_dir(), arch


def test_processor_event_source_and_queue(template: dict[str, Any]) -> None:
    res = template["Resources"]
    props = res["ProcessorFunction"]["Properties"]
    assert props["MemorySize"] == 1769
    assert props["Timeout"] == {"Ref": "ProcessorTimeout"}
    source = props["Events"]["Uploads"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ProcessorMaxConcurrency"}
    assert "ReservedConcurrentExecutions" not in props
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert set(template["Parameters"]["Architecture"]["AllowedValues"]) == {"x86_64", "arm64"}
    # visibility timeout = 6 x the function timeout, for every timeout the parameter allows
    for timeout in template["Parameters"]["ProcessorTimeout"]["AllowedValues"]:
        ev = Evaluator(template, parameters={"ProcessorTimeout": str(timeout)})
        queue = ev.eval(res["UploadsQueue"]["Properties"]["VisibilityTimeout"])
        assert int(queue) == 6 * int(timeout)
        assert int(ev.eval({"Fn::FindInMap": ["ProcessorTimeouts", str(timeout), "LeaseSeconds"]})) > int(timeout)
    assert res["UploadsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 5


def test_uploads_notify_the_queue_without_a_cycle(template: dict[str, Any]) -> None:
    res = template["Resources"]
    bucket = res["UploadsBucket"]
    assert bucket["DependsOn"] == "UploadsQueuePolicy"
    (config,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "originals/"}]
    (statement,) = res["UploadsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    source_arn = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert "UploadsBucket" not in json.dumps(source_arn)  # a name, not a reference to the bucket
    ev = Evaluator(template)
    assert ev.eval(source_arn) == "arn:aws:s3:::" + ev.eval(bucket["Properties"]["BucketName"])


@pytest.mark.parametrize("bucket", ["UploadsBucket", "RenditionsBucket", "ConfigBucket"])
def test_buckets_are_private_encrypted_and_tls_only(template: dict[str, Any], bucket: str) -> None:
    res = template["Resources"]
    props = res[bucket]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    policy = res[f"{bucket}Policy"]["Properties"]
    assert policy["Bucket"] == {"Ref": bucket}
    deny = policy["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_table_matches_the_adapter_schema(template: dict[str, Any]) -> None:
    props = template["Resources"]["ImagesTable"]["Properties"]
    for key in ("KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert props[key] == TABLE_SCHEMA[key], key
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(TABLE_SCHEMA["AttributeDefinitions"], key=str)
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_auth_and_delivery_switch(template: dict[str, Any]) -> None:
    jwt = Evaluator(template, parameters={"AuthMode": "jwt"})
    demo = Evaluator(template, parameters={"AuthMode": "none", "RenditionDelivery": "presigned"})
    route = template["Resources"]["HttpApiDefaultRoute"]["Properties"]
    assert jwt.eval(route["AuthorizationType"]) == "JWT"
    assert demo.eval(route["AuthorizationType"]) == "NONE"
    assert not demo.resources("AWS::CloudFront::Distribution")
    assert jwt.resources("AWS::CloudFront::Distribution")
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert demo.eval(env["IMGFLOW_AUTH"]) == "none"
    assert demo.eval({"v": env["IMGFLOW_CDN_BASE_URL"]}) == {}


def test_api_and_sweep_announce_on_the_processors_queue(template: dict[str, Any]) -> None:
    """The API's and the sweep's messages reach the queue the processor polls, and nothing in the
    queue's policy denies them: within the account, the role's sqs:SendMessage grant is enough."""
    res = template["Resources"]
    for function in ("ApiFunction", "ReconcilerFunction"):
        own = res[function]["Properties"]["Environment"]["Variables"]
        assert own["IMGFLOW_QUEUE_URL"] == {"Ref": "UploadsQueue"}, function
    source = res["ProcessorFunction"]["Properties"]["Events"]["Uploads"]["Properties"]
    assert source["Queue"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    own = res["ProcessorFunction"]["Properties"].get("Environment", {}).get("Variables", {})
    assert "IMGFLOW_QUEUE_URL" not in own  # the processor never queues a record itself
    assert "IMGFLOW_QUEUE_URL" not in template["Globals"]["Function"]["Environment"]["Variables"]
    for policy in Evaluator(template).resources("AWS::SQS::QueuePolicy").values():
        assert all(s["Effect"] == "Allow" for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_sweep_is_small_and_leaves_queued_messages_time(template: dict[str, Any]) -> None:
    """It only sends messages: no processor-sized function, and a queued record is re-driven
    only after twice the visibility timeout (its message had time to be received and retried)."""
    res = template["Resources"]
    props = res["ReconcilerFunction"]["Properties"]
    assert props["MemorySize"] <= 512
    assert isinstance(props["Timeout"], int)
    assert props["Timeout"] <= 60
    grace = props["Environment"]["Variables"]["IMGFLOW_RECONCILE_GRACE_SECONDS"]
    for timeout in template["Parameters"]["ProcessorTimeout"]["AllowedValues"]:
        ev = Evaluator(template, parameters={"ProcessorTimeout": str(timeout)})
        visibility = int(ev.eval(res["UploadsQueue"]["Properties"]["VisibilityTimeout"]))
        assert int(ev.eval(grace)) >= 2 * visibility


def test_edges_stop_serving_a_deleted_image_within_a_day(template: dict[str, Any]) -> None:
    config = template["Resources"]["RenditionsCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert config["MinTTL"] == 0  # the origin's Cache-Control may shorten it
    assert config["MaxTTL"] <= 86400  # the longest an edge serves an object without asking S3
    assert config["DefaultTTL"] <= config["MaxTTL"]


def test_browser_preflight_skips_the_authorizer(translated: dict[str, Any]) -> None:
    """OPTIONS /{proxy+} outranks $default, so a preflight (no token) never meets the JWT authorizer;
    it reaches the API function, and the app gets CorsAllowedOrigins to answer it with."""
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    preflight = routes["OPTIONS /{proxy+}"]
    assert preflight["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in preflight
    assert preflight["Target"] == routes["$default"]["Target"] == {"Fn::Sub": "integrations/${HttpApiIntegration}"}
    integration = translated["Resources"]["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["ApiFunction", "Arn"]}
    jwt = Evaluator(
        load_template(), parameters={"AuthMode": "jwt", "CorsAllowedOrigins": "https://a.example,https://b.example"}
    )
    assert jwt.eval(routes["$default"]["AuthorizationType"]) == "JWT"
    env = load_template()["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    origins = json.loads(jwt.eval(env["IMGFLOW_CORS_ORIGINS"]))
    assert origins == ["https://a.example", "https://b.example"]
    assert Settings(cors_origins=origins).cors_origins == ("https://a.example", "https://b.example")


def _rule_functions(node: Any) -> set[str]:
    if isinstance(node, list):
        return {f for n in node for f in _rule_functions(n)}
    if isinstance(node, dict):
        return {k for k in node if k.startswith("Fn::") or k == "Ref"} | {
            f for v in node.values() for f in _rule_functions(v)
        }
    return set()


#: what CloudFormation allows in Rules (no Fn::Join, Fn::Sub, Fn::If ...)
RULE_FUNCTIONS = {
    "Ref", "Fn::And", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::Equals",
    "Fn::Not", "Fn::Or", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll",
}  # fmt: skip


@pytest.mark.parametrize(
    ("parameters", "holds"),
    [
        ({"AuthMode": "jwt", "JwtIssuer": "https://issuer", "JwtAudience": "app1,app2"}, True),
        ({"AuthMode": "jwt", "JwtIssuer": "https://issuer", "JwtAudience": ""}, False),
        ({"AuthMode": "jwt", "JwtIssuer": "https://issuer", "JwtAudience": "app1,"}, False),
        ({"AuthMode": "jwt", "JwtIssuer": "", "JwtAudience": "app1"}, False),
        ({"AuthMode": "none"}, True),
    ],
)
def test_rules_use_only_rule_functions(template: dict[str, Any], parameters: dict[str, str], holds: bool) -> None:
    ev = Evaluator(template, parameters=parameters)
    for rule in template["Rules"].values():
        assert _rule_functions(rule) <= RULE_FUNCTIONS, rule
    results = []
    for rule in template["Rules"].values():
        if "RuleCondition" not in rule or ev.eval(rule["RuleCondition"]):
            results += [bool(ev.eval(a["Assert"])) for a in rule["Assertions"]]
    assert all(results) is holds


def test_cloudfront_names_are_unique_per_stack_and_short(template: dict[str, Any]) -> None:
    """Cache, response-headers policy and OAC names are account-global: the same stack name in a
    second region must not collide, and an OAC name is at most 64 characters (stack names reach 128)."""
    res = template["Resources"]
    paths = {
        "RenditionsOriginAccessControl": ("OriginAccessControlConfig", 64),
        "RenditionsCachePolicy": ("CachePolicyConfig", 128),
        "RenditionsResponseHeadersPolicy": ("ResponseHeadersPolicyConfig", 128),
    }
    long_name = "s" * 128
    first = Evaluator(template, stack_name=long_name, stack_guid="11111111-2222-3333-4444-555555555555")
    second = Evaluator(template, stack_name=long_name, stack_guid="66666666-7777-8888-9999-000000000000")
    for logical, (config, most) in paths.items():
        name = res[logical]["Properties"][config]["Name"]
        one, two = first.eval(name), second.eval(name)
        assert one != two, logical
        assert len(one) <= most, (logical, one)
        assert "11111111-2222-3333-4444-555555555555" in one
        assert re.fullmatch(r"[A-Za-z0-9_-]+", one), one


def test_data_survives_the_stack(template: dict[str, Any]) -> None:
    res = template["Resources"]
    for logical in ("UploadsBucket", "RenditionsBucket", "ImagesTable"):
        assert res[logical]["DeletionPolicy"] == "Retain", logical
        assert res[logical]["UpdateReplacePolicy"] == "Retain", logical
    assert res["ImagesTable"]["Properties"]["DeletionProtectionEnabled"] is True


def test_outputs_name_the_distribution(template: dict[str, Any]) -> None:
    output = template["Outputs"]["DistributionId"]
    assert output["Value"] == {"Ref": "RenditionsDistribution"}
    assert output["Condition"] == template["Resources"]["RenditionsDistribution"]["Condition"]
    docs = (ROOT / "docs" / "deploy-aws.md").read_text(encoding="utf-8")
    assert "DistributionId" in docs


def test_the_processor_finds_the_shipped_fonts(template: dict[str, Any]) -> None:
    """FONTCONFIG_FILE names the fonts.conf packaging/package.py puts in the processor's artefact."""
    package = load_packaging()
    env = template["Resources"]["ProcessorFunction"]["Properties"]["Environment"]["Variables"]
    folder = f"{package.TASK_ROOT}/{package.FONTS_DIR}"
    assert env["FONTCONFIG_FILE"] == f"{folder}/fonts.conf"
    assert env["FONTCONFIG_PATH"] == folder


def test_the_api_reads_the_transform_keys_through_its_own_policy(translated: dict[str, Any]) -> None:
    (function, (logical, uses)) = next(iter(EXTRA_POLICY_USES.items()))
    policy = translated["Resources"][logical]
    assert policy["Condition"] == "UseCloudFront"
    assert policy["Properties"]["Roles"] == [{"Ref": f"{function}Role"}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert _granted(statements) == set(grants(function, uses))


def test_transforms_behind_the_renditions_distribution(template: dict[str, Any]) -> None:
    """``/t/*`` goes to the transform function's URL, signed by an OAC of type lambda, cached on the
    path and the normalised format only; only this distribution may invoke it, by both actions."""
    res = template["Resources"]
    config = res["RenditionsDistribution"]["Properties"]["DistributionConfig"]
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/t/*"]
    (origin,) = [o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["TransformOriginAccessControl", "Id"]}
    assert "TransformFunctionUrl" in json.dumps(origin["DomainName"])
    assert res["TransformFunction"]["Properties"]["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    oac = res["TransformOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("lambda", "always")
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    (association,) = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    key = res["TransformCachePolicy"]["Properties"]["CachePolicyConfig"]
    params = key["ParametersInCacheKeyAndForwardedToOrigin"]
    assert params["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["x-imgflow-accept"]}
    assert params["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert params["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["MaxTTL"] <= 86400  # a deleted image stops being served within a day
    declared = Evaluator(template).resources("AWS::Lambda::Permission").values()
    permissions = {
        p["Properties"]["Action"]: p["Properties"]
        for p in declared
        if p["Properties"]["FunctionName"] == {"Ref": "TransformFunction"}
    }
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for grant in permissions.values():
        assert grant["Principal"] == "cloudfront.amazonaws.com"
        assert "${RenditionsDistribution}" in grant["SourceArn"]["Fn::Sub"]
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    env = res["TransformFunction"]["Properties"]["Environment"]["Variables"]
    assert env["IMGFLOW_ONDEMAND__KEYS_SECRET_ARN"] == {"Ref": "TransformKeysSecret"}
    assert res["TransformKeysSecret"]["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "keys"
    alarms = {a["Properties"]["MetricName"] for a in Evaluator(template).resources("AWS::CloudWatch::Alarm").values()
              if a["Properties"]["Dimensions"][0]["Value"] == {"Ref": "TransformFunction"}}  # fmt: skip
    assert alarms == {"Errors", "Throttles", "Duration"}
    presigned = Evaluator(template, parameters={"RenditionDelivery": "presigned"})
    assert "TransformFunction" not in presigned.resources("AWS::Serverless::Function")
    assert "TransformFunction" in Evaluator(template).resources("AWS::Serverless::Function")


@pytest.mark.parametrize(
    ("accept", "token"),
    [(None, "jpeg"), ("*/*", "jpeg"), ("image/avif,image/webp,*/*;q=0.8", "avif"), ("image/webp,*/*", "webp"),
     ("image/avif;q=0,image/webp;q=0.5", "webp"), ("IMAGE/AVIF", "avif"), ("image/avif;q=zz,image/webp", "webp")],
)  # fmt: skip
def test_the_cloudfront_function_normalises_accept_like_the_origin(
    template: dict[str, Any], tmp_path: Path, accept: str | None, token: str
) -> None:
    """The viewer-request function (run by node) gives the token the origin's own negotiation gives."""
    import shutil

    from imgflow.ondemand.negotiate import token_from_accept

    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is missing: `make setup` installs Debian's nodejs to run the CloudFront function's JavaScript"
        )
    code = template["Resources"]["TransformAcceptFunction"]["Properties"]["FunctionCode"]
    headers = {"accept": {"value": accept}} if accept is not None else {}
    script = tmp_path / "run.js"
    script.write_text(
        code + f"\nconsole.log(JSON.stringify(handler({json.dumps({'request': {'headers': headers}})})));\n"
    )
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=30, check=True)
    request = json.loads(out.stdout)
    assert request["headers"]["x-imgflow-accept"]["value"] == token == token_from_accept(accept)


def _references(node: Any) -> set[str]:
    """Logical ids a node refers to (Ref, Fn::GetAtt, ${X} / ${X.Attr} in Fn::Sub), whatever the conditions."""
    if isinstance(node, list):
        return {r for n in node for r in _references(n)}
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([\w.:]+)\}", text)}
            found |= _references(value[1:] if isinstance(value, list) else [])
        else:
            found |= _references(value)
    return found


def test_no_circular_dependency(translated: dict[str, Any]) -> None:
    """CloudFormation refuses a stack whose resources depend on each other in a circle (the
    distribution's /t/* origin is the transform function's URL: the function must not name the
    distribution, e.g. through the global IMGFLOW_CDN_BASE_URL)."""
    res = translated["Resources"]
    edges = {
        name: {r for r in _references(body) | set(_as_list(body.get("DependsOn", []))) if r in res and r != name}
        for name, body in res.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*path[path.index(nxt) :], node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in res:
        if name not in state:
            visit(name, [name])
