"""The deployment template: generated from the models, packaged by Chalice, least privilege."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from chalicelib.store.models import ALL_MODELS, TTL_ATTRIBUTES
from devstack import deploy_template
from devstack.deploy_template import ROOT, build_policy, generated_files, load_config

STAGE = "prod"
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
CHALICE_MAIN = "import sys; from chalice.cli import main; sys.exit(main())"
FUNCTION_TYPE = "AWS::Serverless::Function"
QUEUE_ARN = "arn:aws:sqs:*:*:suishoupai-prod-notices"
# Handler -> (SAM resource, schedule) of the functions app.py defines besides the API.
SCHEDULES = {
    "RequeueDueNotices": "rate(1 minute)",
    "SweepDueReports": "rate(15 minutes)",
    "DailyDigest": "cron(0 1 * * ? *)",
    "WeeklyDigest": "cron(0 1 ? * MON *)",
    "OpenTopics": "cron(30 1 * * ? *)",
}
WORKER = "DeliverNotices"
# PynamoDB calls in chalicelib -> the IAM action each one needs.
CALL_ACTIONS = {
    r"\.batch_get\(": "dynamodb:BatchGetItem",
    r"\.batch_write\(": "dynamodb:BatchWriteItem",
    r"\.condition_check\(": "dynamodb:ConditionCheckItem",
}


def _items(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _expected_indexes(model: type) -> dict[str, dict[str, Any]]:
    """Index name -> key schema and projection, read from the PynamoDB index classes."""
    expected = {}
    for index in model._indexes.values():
        hash_key = next(a.attr_name for a in index.Meta.attributes.values() if a.is_hash_key)
        range_key = next(
            (a.attr_name for a in index.Meta.attributes.values() if a.is_range_key), None
        )
        projection = {"ProjectionType": index.Meta.projection.projection_type}
        if index.Meta.projection.non_key_attributes:
            projection["NonKeyAttributes"] = sorted(index.Meta.projection.non_key_attributes)
        expected[index.Meta.index_name] = {
            "KeySchema": _key_schema(hash_key, range_key),
            "Projection": projection,
        }
    return expected


def _documents(properties: dict[str, Any]) -> list[dict[str, Any]]:
    documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
    if "PolicyDocument" in properties:
        documents.append(properties["PolicyDocument"])
    return documents


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for resource in template["Resources"].values():
        if resource.get("Type") in IAM_TYPES:
            for document in _documents(resource["Properties"]):
                statements.extend(document["Statement"])
    return statements


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement that applies to one role: inline, or attached policies naming it."""
    statements = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") not in IAM_TYPES:
            continue
        properties = resource["Properties"]
        if logical_id == role_id or {"Ref": role_id} in properties.get("Roles", []):
            for document in _documents(properties):
                statements.extend(document["Statement"])
    return statements


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r.get("Type") == FUNCTION_TYPE}


def _role_id(function: dict[str, Any]) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


@pytest.fixture(scope="module")
def environment() -> dict[str, str]:
    return deploy_template.stage_environment(load_config(), STAGE)


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`chalice package` of the prod stage with its merge template (no AWS account needed)."""
    out = tmp_path_factory.mktemp("package") / STAGE
    env = {**os.environ, "AWS_DEFAULT_REGION": "ap-east-1"}
    command = [
        sys.executable,
        "-c",
        CHALICE_MAIN,
        "package",
        "--stage",
        STAGE,
        "--merge-template",
        f".chalice/resources-{STAGE}.json",
        str(out),
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "sam.json").read_text(encoding="utf-8"))


def test_committed_files_match_the_models() -> None:
    for path, text in generated_files().items():
        assert path.exists(), f"{path.name} missing: run python -m devstack.deploy_template"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python -m devstack.deploy_template"
        )


def test_stages_use_their_generated_policy_files() -> None:
    config = load_config()
    for stage in deploy_template.STAGES:
        assert config["stages"][stage]["iam_policy_file"] == f"policy-{stage}.json"
        assert (ROOT / ".chalice" / f"policy-{stage}.json").exists()


def test_every_model_table_is_in_the_package(sam: dict, environment: dict) -> None:
    tables = {
        r["Properties"]["TableName"]: r
        for r in sam["Resources"].values()
        if r.get("Type") == "AWS::DynamoDB::Table"
    }
    expected_names = {environment["TABLE_PREFIX"] + m.Meta.logical_name for m in ALL_MODELS}
    assert set(tables) == expected_names
    for model in ALL_MODELS:
        table = tables[environment["TABLE_PREFIX"] + model.Meta.logical_name]
        properties = table["Properties"]
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["KeySchema"] == _key_schema(model._hash_keyname, model._range_keyname)
        indexes = {
            index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]}
            for index in properties.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == _expected_indexes(model), model.__name__
        key_names = {e["AttributeName"] for e in properties["KeySchema"]}
        for index in indexes.values():
            key_names |= {e["AttributeName"] for e in index["KeySchema"]}
        assert {d["AttributeName"] for d in properties["AttributeDefinitions"]} == key_names
        ttl = TTL_ATTRIBUTES.get(model)
        if ttl:
            assert properties["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in properties
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert properties["SSESpecification"]["SSEEnabled"]


def test_upload_bucket_is_private(sam: dict, environment: dict) -> None:
    buckets = [r for r in sam["Resources"].values() if r.get("Type") == "AWS::S3::Bucket"]
    assert len(buckets) == 1
    bucket = buckets[0]
    properties = bucket["Properties"]
    assert properties["BucketName"] == environment["UPLOAD_BUCKET"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert any(
        r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 1 for r in rules
    )


def test_api_function_and_its_environment(sam: dict) -> None:
    function = sam["Resources"]["APIHandler"]
    assert function["Type"] == FUNCTION_TYPE
    properties = function["Properties"]
    assert properties["Handler"] == "app.app"
    assert properties["FunctionName"] == "suishoupai-prod"
    variables = properties["Environment"]["Variables"]
    table_names = {
        r["Properties"]["TableName"]
        for r in sam["Resources"].values()
        if r.get("Type") == "AWS::DynamoDB::Table"
    }
    assert table_names == {variables["TABLE_PREFIX"] + m.Meta.logical_name for m in ALL_MODELS}
    assert (
        sam["Resources"]["UploadBucket"]["Properties"]["BucketName"] == variables["UPLOAD_BUCKET"]
    )
    assert variables["STAGE"] == STAGE


def test_every_function_is_named_pinned_and_knows_the_queue(sam: dict, environment: dict) -> None:
    functions = _functions(sam)
    assert set(functions) == {"APIHandler", WORKER, *SCHEDULES}
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12", logical_id
        assert properties["FunctionName"].startswith("suishoupai-prod"), logical_id
        variables = properties["Environment"]["Variables"]
        assert variables["NOTIFY_QUEUE_URL"] == {"Ref": "NoticeQueue"}, logical_id
        # Chalice's variables from config.json survive the merge.
        assert {k: v for k, v in variables.items() if k != "NOTIFY_QUEUE_URL"} == environment
    assert functions[WORKER]["Properties"]["FunctionName"] == "suishoupai-prod-deliver_notices"


def test_notice_queue_has_a_dead_letter_queue_and_an_alarm(sam: dict) -> None:
    resources = sam["Resources"]
    queue = resources["NoticeQueue"]
    dlq = resources["NoticeDeadLetterQueue"]
    assert queue["Type"] == dlq["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    assert properties["QueueName"] == "suishoupai-prod-notices"
    worker_timeout = resources[WORKER]["Properties"]["Timeout"]
    assert properties["VisibilityTimeout"] >= 6 * worker_timeout
    assert properties["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["NoticeDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    alarms = [r for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 1
    alarm = alarms[0]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["NoticeDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0


def test_worker_consumes_the_notice_queue_with_partial_batch_failures(sam: dict) -> None:
    properties = sam["Resources"][WORKER]["Properties"]
    assert properties["Handler"] == "chalicelib.api.notify_handlers.deliver_notices"
    events = properties["Events"]
    assert list(events) == ["DeliverNoticesSqsEventSource"]
    event = events["DeliverNoticesSqsEventSource"]
    assert event["Type"] == "SQS"
    # Exactly one intrinsic: the merge must replace Chalice's ARN, not sit beside it.
    assert event["Properties"]["Queue"] == {"Fn::Sub": "${NoticeQueue.Arn}"}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["BatchSize"] == 10


def test_schedules_are_packaged(sam: dict) -> None:
    for logical_id, schedule in SCHEDULES.items():
        events = sam["Resources"][logical_id]["Properties"]["Events"]
        assert [e["Type"] for e in events.values()] == ["Schedule"], logical_id
        assert [e["Properties"]["Schedule"] for e in events.values()] == [schedule]


def test_worker_role_keeps_the_policy_file_and_adds_only_consume(sam: dict) -> None:
    config = load_config()
    policy_file = json.loads(
        (ROOT / ".chalice" / f"policy-{STAGE}.json").read_text(encoding="utf-8")
    )
    for logical_id, function in _functions(sam).items():
        role = sam["Resources"][_role_id(function)]["Properties"]
        assert role["Policies"][0]["PolicyDocument"] == policy_file, logical_id
        statements = _role_statements(sam, _role_id(function))
        extra = [s for s in statements if s not in policy_file["Statement"]]
        if logical_id == WORKER:
            assert extra == [deploy_template.consume_statement(config, STAGE)]
        else:
            assert extra == [], logical_id


def test_role_is_least_privilege(sam: dict, environment: dict) -> None:
    statements = _statements(sam)
    assert statements
    prefix = environment["TABLE_PREFIX"]
    tables = {f"arn:aws:dynamodb:*:*:table/{prefix}{m.Meta.logical_name}" for m in ALL_MODELS}
    indexes = {f"{arn}/index/*" for arn in tables}
    bucket = environment["UPLOAD_BUCKET"]
    log_groups = {
        f"arn:aws:logs:*:*:log-group:/aws/lambda/{f['Properties']['FunctionName']}"
        for f in _functions(sam).values()
    }
    granted: set[str] = set()
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = _items(statement["Action"])
        resources = _items(statement["Resource"])
        granted.update(actions)
        assert "dynamodb:Scan" not in actions
        assert all("*" not in action for action in actions), statement
        assert "*" not in resources, statement
        assert statement.get("Sid"), statement
        services = {action.split(":", 1)[0] for action in actions}
        assert len(services) == 1, statement
        if "dynamodb" in services:
            assert set(resources) <= tables | indexes, statement
            if set(resources) & indexes:
                assert set(resources) <= indexes and actions == ["dynamodb:Query"], statement
        if "s3" in services:
            assert all(r.startswith(f"arn:aws:s3:::{bucket}") for r in resources), statement
            object_resources = [r for r in resources if r != f"arn:aws:s3:::{bucket}"]
            assert set(object_resources) <= {
                f"arn:aws:s3:::{bucket}/uploads/*",
                f"arn:aws:s3:::{bucket}/qrcodes/*",
            }
        if "sqs" in services:
            assert resources == [QUEUE_ARN], statement
        if "logs" in services:
            assert set(resources) <= log_groups | {f"{group}:*" for group in log_groups}
    needed = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "s3:GetObject",
        "s3:PutObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert needed <= granted
    deletable = {
        resource
        for statement in statements
        if "dynamodb:DeleteItem" in _items(statement["Action"])
        for resource in _items(statement["Resource"])
    }
    assert deletable and all(r.endswith(":table/ssp-prod-tokens") for r in deletable), deletable
    # Consuming is for the worker's role only.
    for logical_id, function in _functions(sam).items():
        role_actions = {
            action
            for statement in _role_statements(sam, _role_id(function))
            for action in _items(statement["Action"])
        }
        assert ("sqs:ReceiveMessage" in role_actions) == (logical_id == WORKER), logical_id
        assert "sqs:SendMessage" in role_actions, logical_id


def test_batch_and_condition_actions_follow_the_code() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "chalicelib").rglob("*.py")
    )
    granted = set(deploy_template.DYNAMODB_TABLE_ACTIONS)
    for pattern, action in CALL_ACTIONS.items():
        assert (re.search(pattern, source) is not None) == (action in granted), action


@pytest.mark.parametrize("stage", deploy_template.STAGES)
def test_sms_settings_come_from_the_stage(stage: str) -> None:
    variables = deploy_template.stage_environment(load_config(), stage)
    for name in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_APP_ID"):
        assert variables[name].startswith(f"{{{{resolve:secretsmanager:suishoupai/{stage}:"), name
    assert variables["SMS_SIGN_NAME"] == "随手拍"
    assert variables["SMS_ENDPOINT"] == "sms.tencentcloudapi.com"
    assert variables["SMS_REGION"] == "ap-guangzhou"
    for name in ("SMS_TEMPLATES", "WECHAT_TEMPLATES"):
        assert variables[name].startswith(f"{{{{resolve:ssm:/suishoupai/{stage}/"), name


@pytest.mark.parametrize("stage", deploy_template.STAGES)
def test_stage_policies_name_only_their_own_tables(stage: str) -> None:
    config = load_config()
    document = build_policy(config, stage)
    prefix = deploy_template.stage_environment(config, stage)["TABLE_PREFIX"]
    for statement in document["Statement"]:
        for resource in _items(statement["Resource"]):
            if resource.startswith("arn:aws:dynamodb:"):
                assert resource.split(":table/", 1)[1].startswith(prefix)
            if resource.startswith("arn:aws:sqs:"):
                assert resource == f"arn:aws:sqs:*:*:suishoupai-{stage}-notices"
            if resource.startswith("arn:aws:logs:"):
                assert f":log-group:/aws/lambda/suishoupai-{stage}" in resource
    assert (ROOT / ".chalice" / f"resources-{stage}.json").exists()
