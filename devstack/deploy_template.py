"""Deployment templates generated from the models: `python -m devstack.deploy_template`.

Writes, for each deployed stage (dev, prod):

- `.chalice/resources-<stage>.json`: the merge template for `chalice package` (DynamoDB tables
  from `ALL_MODELS`, the private upload bucket, the notice queue with its dead-letter queue and
  alarm, and per-function settings: fixed names, the Lambda runtime, `NOTIFY_QUEUE_URL`, the
  notice worker's SQS event source and its role's consume permission);
- `.chalice/policy-<stage>.json`: the Lambda roles' least-privilege policy (Chalice's
  per-stage `iam_policy_file`, shared by every function's role).

Table names are `TABLE_PREFIX` + `Meta.logical_name` and the bucket is `UPLOAD_BUCKET`, both
read from that stage's `.chalice/config.json`, so the template, the policy and the Lambda's
environment always agree. The functions, their timeouts and CloudFormation names come from
Chalice's own application graph of `app.py`. `--check` exits 1 when the committed files differ
(CI).

`chalice package` is the deployment path: `chalice deploy` would neither create the queue nor
give the worker its consume permission.

    python -m devstack.deploy_template
    chalice package --stage prod --merge-template .chalice/resources-prod.json build/prod
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.config import Config
from chalice.deploy import models as chalice_models
from chalice.deploy.deployer import ApplicationGraphBuilder
from chalice.utils import to_cfn_resource_name

from chalicelib.adapters.uploads import UPLOAD_CORS
from chalicelib.api.notify_handlers import NOTICE_QUEUE
from chalicelib.store.models import ALL_MODELS, TTL_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
STAGES = ("dev", "prod")
RETAINED_STAGES = frozenset({"prod"})
PARTITION = "aws"  # "aws-cn" for the Beijing/Ningxia regions

# DynamoDB actions the code performs (PynamoDB 6.1): Model.get -> GetItem, save -> PutItem,
# update -> UpdateItem, delete -> DeleteItem (the WeChat token cache only), query -> Query,
# Model.batch_get -> BatchGetItem (followers of merged reports); TransactWrite.save/update need
# PutItem/UpdateItem on each table (TransactWriteItems is not an IAM action). PynamoDB 6 builds
# its table metadata from the model classes, so DescribeTable is only needed by
# `Model.exists()`/`create_table` (local stack only). Add an action here when the code starts
# using it (TransactWrite.condition_check -> ConditionCheckItem); never Scan.
DYNAMODB_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
DYNAMODB_INDEX_ACTIONS = ("dynamodb:Query",)
# Nothing is deleted but the shared WeChat access token when WeChat says it expired.
DYNAMODB_DELETE_TABLES = ("tokens",)
# uploads/: presigned POST (signed with PutObject), HeadObject and presigned GET (GetObject);
# qrcodes/: generated PNGs stored and read back.
S3_OBJECT_PREFIXES = ("uploads/", "qrcodes/")
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")
API_HANDLER = "APIHandler"
# Chalice takes the runtime from the packaging interpreter; every runtime dependency is
# pure Python, so the template pins a supported Lambda runtime instead.
LAMBDA_RUNTIME = "python3.12"

# The notice queue (`@on_sqs_message(queue=NOTICE_QUEUE)`): Chalice derives the queue ARN from
# that bare name; the merge template points the event source at the stage's own queue.
NOTICE_QUEUE_ID = "NoticeQueue"
NOTICE_DLQ_ID = "NoticeDeadLetterQueue"
NOTICE_DLQ_ALARM_ID = "NoticeDeadLetterQueueAlarm"
NOTICE_QUEUE_ENV = "NOTIFY_QUEUE_URL"
# AWS: visibility timeout >= 6 x the consumer's timeout (+ its batching window).
VISIBILITY_TIMEOUT_FACTOR = 6
DLQ_MAX_RECEIVE_COUNT = 5
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the maximum: longer than the queue's own retention
# Every function may enqueue (notices after a transaction, workflow jobs, the sweeps);
# send_message_batch is authorized by sqs:SendMessage.
SQS_SEND_ACTIONS = ("sqs:SendMessage",)
# What the Lambda event source mapping needs (AWSLambdaSQSQueueExecutionRole); given to the
# worker's role only. The code never changes a message's visibility itself.
SQS_CONSUME_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")


@dataclass(frozen=True)
class SqsSource:
    """An `@on_sqs_message` event source as Chalice packages it."""

    event_id: str  # key in the function's SAM `Events`
    queue: str  # the queue name given in app.py
    batch_size: int
    batching_window: int


@dataclass(frozen=True)
class LambdaFunction:
    """One function of the packaged app, as Chalice names and configures it for a stage."""

    logical_id: str  # the SAM resource, e.g. `APIHandler`, `DeliverNotices`
    role_id: str | None  # its Chalice-managed role resource, e.g. `DeliverNoticesRole`
    function_name: str  # Chalice's `<app>-<stage>[-<name>]`
    timeout: int
    sqs_sources: tuple[SqsSource, ...] = ()


def load_config() -> dict[str, Any]:
    """The parsed `.chalice/config.json`."""
    return json.loads((CHALICE_DIR / "config.json").read_text(encoding="utf-8"))


def stage_environment(config: dict[str, Any], stage: str) -> dict[str, str]:
    """The Lambda environment of `stage` (top-level variables overridden by the stage's)."""
    stage_config = config["stages"][stage]
    return {
        **config.get("environment_variables", {}),
        **stage_config.get("environment_variables", {}),
    }


def load_app() -> Any:
    """The Chalice app of `app.py` (imported from the project root)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("app").app


def _graph_resources(resource: Any, seen: set[int]) -> list[Any]:
    found = []
    for dependency in resource.dependencies():
        if id(dependency) not in seen:
            seen.add(id(dependency))
            found.append(dependency)
            found.extend(_graph_resources(dependency, seen))
    return found


def lambda_functions(config: dict[str, Any], stage: str) -> list[LambdaFunction]:
    """Every function `chalice package` generates for `stage`, API handler first."""
    chalice_config = Config(
        chalice_stage=stage,
        user_provided_params={"chalice_app": load_app(), "project_dir": str(ROOT)},
        config_from_disk=config,
    )
    graph = ApplicationGraphBuilder().build(chalice_config, stage)
    resources = _graph_resources(graph, set())
    api_functions = {
        id(r.lambda_function) for r in resources if isinstance(r, chalice_models.RestAPI)
    }
    sources: dict[int, list[SqsSource]] = {}
    for resource in resources:
        if isinstance(resource, chalice_models.SQSEventSource):
            if isinstance(resource.queue, chalice_models.QueueARN):
                raise ValueError(f"{resource.resource_name}: give the queue by name")
            sources.setdefault(id(resource.lambda_function), []).append(
                SqsSource(
                    event_id=to_cfn_resource_name(resource.resource_name),
                    queue=resource.queue,
                    batch_size=resource.batch_size,
                    batching_window=resource.maximum_batching_window_in_seconds,
                )
            )
    functions = []
    for resource in resources:
        if not isinstance(resource, chalice_models.LambdaFunction):
            continue
        role = resource.role
        functions.append(
            LambdaFunction(
                logical_id=API_HANDLER
                if id(resource) in api_functions
                else to_cfn_resource_name(resource.resource_name),
                role_id=to_cfn_resource_name(role.resource_name)
                if isinstance(role, chalice_models.ManagedIAMRole)
                else None,
                function_name=resource.function_name,
                timeout=resource.timeout,
                sqs_sources=tuple(sources.get(id(resource), ())),
            )
        )
    return sorted(functions, key=lambda f: (f.logical_id != API_HANDLER, f.logical_id))


def notice_queue_name(config: dict[str, Any], stage: str) -> str:
    """The stage's notice queue, e.g. `suishoupai-prod-notices`."""
    app_name = config["app_name"]
    return f"{app_name}-{stage}-{NOTICE_QUEUE.removeprefix(app_name + '-')}"


def notice_queue_arn(config: dict[str, Any], stage: str) -> str:
    """The notice queue's ARN as the policies name it (the name is the stage's own)."""
    return f"arn:{PARTITION}:sqs:*:*:{notice_queue_name(config, stage)}"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def table_logical_id(model: type) -> str:
    """CloudFormation logical id of a model's table, e.g. `ReportEventsTable`."""
    return f"{_camel(model.Meta.logical_name)}Table"


def _key_schema(elements: list[dict[str, str]]) -> list[dict[str, str]]:
    order = {"HASH": 0, "RANGE": 1}
    ordered = sorted(elements, key=lambda element: order[element["KeyType"]])
    return [{"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in ordered]


def _projection(projection: dict[str, Any]) -> dict[str, Any]:
    result = {"ProjectionType": projection["ProjectionType"]}
    if projection.get("NonKeyAttributes"):
        result["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
    return result


def table_properties(model: type, table_name: str) -> dict[str, Any]:
    """`AWS::DynamoDB::Table` properties equivalent to the model's `create_table`."""
    schema = model._get_schema()
    definitions = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    properties: dict[str, Any] = {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": definitions[name]}
            for name in sorted(definitions)
        ],
        "KeySchema": _key_schema(schema["key_schema"]),
    }
    for schema_key, cfn_key in (
        ("global_secondary_indexes", "GlobalSecondaryIndexes"),
        ("local_secondary_indexes", "LocalSecondaryIndexes"),
    ):
        indexes = sorted(schema.get(schema_key, []), key=lambda index: index["index_name"])
        if indexes:
            properties[cfn_key] = [
                {
                    "IndexName": index["index_name"],
                    "KeySchema": _key_schema(index["key_schema"]),
                    "Projection": _projection(index["projection"]),
                }
                for index in indexes
            ]
    ttl_attribute = TTL_ATTRIBUTES.get(model)
    if ttl_attribute:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl_attribute, "Enabled": True}
    properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    properties["SSESpecification"] = {"SSEEnabled": True}
    return properties


def _retention(stage: str) -> dict[str, str]:
    policy = "Retain" if stage in RETAINED_STAGES else "Delete"
    return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def bucket_resources(bucket: str, stage: str) -> dict[str, Any]:
    """The private upload bucket (CORS for the browser build's uploads) and its TLS-only
    bucket policy."""
    return {
        "UploadBucket": {
            "Type": "AWS::S3::Bucket",
            **_retention(stage),
            "Properties": {
                "BucketName": bucket,
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                # The browser build uploads from its own origin (chalicelib.adapters.uploads).
                "CorsConfiguration": {
                    "CorsRules": [
                        {
                            "AllowedOrigins": UPLOAD_CORS["AllowedOrigins"],
                            "AllowedMethods": UPLOAD_CORS["AllowedMethods"],
                            "AllowedHeaders": UPLOAD_CORS["AllowedHeaders"],
                            "ExposedHeaders": UPLOAD_CORS["ExposeHeaders"],
                            "MaxAge": UPLOAD_CORS["MaxAgeSeconds"],
                        }
                    ]
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "AbortIncompleteMultipartUploads",
                            "Status": "Enabled",
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            },
        },
        "UploadBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "UploadBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyRequestsWithoutTls",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                f"arn:{PARTITION}:s3:::{bucket}",
                                f"arn:{PARTITION}:s3:::{bucket}/*",
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


def notice_queue_resources(
    config: dict[str, Any], stage: str, consumers: list[LambdaFunction]
) -> dict[str, Any]:
    """The notice queue (SSE, redrive after 5 receives), its dead-letter queue and an alarm."""
    longest = max(
        (f.timeout + s.batching_window for f in consumers for s in f.sqs_sources), default=0
    )
    name = notice_queue_name(config, stage)
    return {
        NOTICE_QUEUE_ID: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": name,
                "VisibilityTimeout": VISIBILITY_TIMEOUT_FACTOR * longest,
                "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [NOTICE_DLQ_ID, "Arn"]},
                    "maxReceiveCount": DLQ_MAX_RECEIVE_COUNT,
                },
            },
        },
        NOTICE_DLQ_ID: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{name}-dlq",
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        NOTICE_DLQ_ALARM_ID: {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": f"{name}-dlq-not-empty",
                "AlarmDescription": (
                    "Notice-queue messages failed 5 receives and were moved to the dead-letter "
                    "queue: read them, fix the cause, redrive them."
                ),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": [NOTICE_DLQ_ID, "QueueName"]}}
                ],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
    }


def consume_statement(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """What the worker's event source mapping needs on the notice queue."""
    return {
        "Sid": "SqsConsumeNoticeQueueWorkerOnly",
        "Effect": "Allow",
        "Action": list(SQS_CONSUME_ACTIONS),
        "Resource": [notice_queue_arn(config, stage)],
    }


def function_resources(
    config: dict[str, Any], stage: str, functions: list[LambdaFunction]
) -> dict[str, Any]:
    """Per-function overrides: name, runtime, queue URL; the worker's event source and role."""
    resources: dict[str, Any] = {}
    for function in functions:
        properties: dict[str, Any] = {
            # A fixed name lets the role's log permissions name the function's log group.
            "FunctionName": function.function_name,
            "Runtime": LAMBDA_RUNTIME,
            # Deep-merged into Chalice's variables (from config.json).
            "Environment": {"Variables": {NOTICE_QUEUE_ENV: {"Ref": NOTICE_QUEUE_ID}}},
        }
        if function.sqs_sources:
            properties["Events"] = {
                source.event_id: {
                    "Properties": {
                        # Chalice's value is {"Fn::Sub": <ARN from the bare name>} and dicts
                        # are deep-merged: override the same key, or both intrinsics remain.
                        "Queue": {"Fn::Sub": "${" + NOTICE_QUEUE_ID + ".Arn}"},
                        # The handler returns {"batchItemFailures": [...]}.
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    }
                }
                for source in function.sqs_sources
            }
        resources[function.logical_id] = {"Properties": properties}
    for function in functions:
        if not function.sqs_sources:
            continue
        if function.role_id is None:
            raise ValueError(f"{function.logical_id}: the SQS worker needs a Chalice-managed role")
        # Lists are replaced, not merged: restate Chalice's policy (the policy file) and add
        # the consume permission as a second inline policy of this role only. Inline policies
        # exist before the function, so the event source mapping's permission check passes.
        resources[function.role_id] = {
            "Properties": {
                "Policies": [
                    {
                        "PolicyName": f"{function.role_id}Policy",
                        "PolicyDocument": build_policy(config, stage, functions),
                    },
                    {
                        "PolicyName": f"{function.role_id}ConsumeNoticeQueue",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [consume_statement(config, stage)],
                        },
                    },
                ]
            }
        }
    return resources


def build_resources(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The merge template of `stage`: functions, tables, upload bucket, notice queue."""
    env = stage_environment(config, stage)
    functions = lambda_functions(config, stage)
    consumers = [f for f in functions if f.sqs_sources]
    queues = {s.queue for f in consumers for s in f.sqs_sources}
    if queues - {NOTICE_QUEUE}:
        raise ValueError(f"queues without a template: {sorted(queues - {NOTICE_QUEUE})}")
    resources = function_resources(config, stage, functions)
    for model in ALL_MODELS:
        resources[table_logical_id(model)] = {
            "Type": "AWS::DynamoDB::Table",
            **_retention(stage),
            "Properties": table_properties(model, env["TABLE_PREFIX"] + model.Meta.logical_name),
        }
    resources.update(bucket_resources(env["UPLOAD_BUCKET"], stage))
    resources.update(notice_queue_resources(config, stage, consumers))
    outputs = {
        "UploadBucketName": {"Value": {"Ref": "UploadBucket"}},
        "TablePrefix": {"Value": env["TABLE_PREFIX"]},
        "NoticeQueueUrl": {"Value": {"Ref": NOTICE_QUEUE_ID}},
        "NoticeDeadLetterQueueUrl": {"Value": {"Ref": NOTICE_DLQ_ID}},
    }
    return {"Resources": resources, "Outputs": outputs}


def build_policy(
    config: dict[str, Any], stage: str, functions: list[LambdaFunction] | None = None
) -> dict[str, Any]:
    """The Lambda roles' policy of `stage`; each Sid says why the statement exists."""
    env = stage_environment(config, stage)
    functions = lambda_functions(config, stage) if functions is None else functions
    bucket = env["UPLOAD_BUCKET"]
    table_arn = f"arn:{PARTITION}:dynamodb:*:*:table/{env['TABLE_PREFIX']}"
    log_groups = [
        f"arn:{PARTITION}:logs:*:*:log-group:/aws/lambda/{function.function_name}"
        for function in functions
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LogsOnlyToThisStagesFunctionLogGroups",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [arn for group in log_groups for arn in (group, f"{group}:*")],
            },
            {
                "Sid": "DynamoItemReadWriteOnStageTablesNoScan",
                "Effect": "Allow",
                "Action": list(DYNAMODB_TABLE_ACTIONS),
                "Resource": [table_arn + model.Meta.logical_name for model in ALL_MODELS],
            },
            {
                "Sid": "DynamoDeleteOnlyTheTokenCache",
                "Effect": "Allow",
                "Action": ["dynamodb:DeleteItem"],
                "Resource": [table_arn + name for name in DYNAMODB_DELETE_TABLES],
            },
            {
                "Sid": "DynamoQueryOnStageTableIndexes",
                "Effect": "Allow",
                "Action": list(DYNAMODB_INDEX_ACTIONS),
                "Resource": [
                    f"{table_arn}{model.Meta.logical_name}/index/*"
                    for model in ALL_MODELS
                    if model._get_schema()["global_secondary_indexes"]
                    or model._get_schema()["local_secondary_indexes"]
                ],
            },
            {
                "Sid": "S3PhotosAndQrCodesUnderTheirPrefixesOnly",
                "Effect": "Allow",
                "Action": list(S3_OBJECT_ACTIONS),
                "Resource": [
                    f"arn:{PARTITION}:s3:::{bucket}/{prefix}*" for prefix in S3_OBJECT_PREFIXES
                ],
            },
            {
                # Without ListBucket, HeadObject/GetObject of a missing key answer 403, not 404,
                # and UploadStore.exists()/get_bytes() would fail instead of returning missing.
                "Sid": "S3ListBucketSoMissingObjectsAnswer404",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:{PARTITION}:s3:::{bucket}"],
            },
            {
                "Sid": "SqsSendToTheStagesNoticeQueue",
                "Effect": "Allow",
                "Action": list(SQS_SEND_ACTIONS),
                "Resource": [notice_queue_arn(config, stage)],
            },
        ],
    }


def render(document: dict[str, Any]) -> str:
    """Stable JSON text of a generated document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated_files(config: dict[str, Any] | None = None) -> dict[Path, str]:
    """Every generated file's path and expected text."""
    config = config or load_config()
    files: dict[Path, str] = {}
    for stage in STAGES:
        files[CHALICE_DIR / f"resources-{stage}.json"] = render(build_resources(config, stage))
        files[CHALICE_DIR / f"policy-{stage}.json"] = render(build_policy(config, stage))
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the generated files (or, with --check, report the stale ones)."""
    parser = argparse.ArgumentParser(prog="python -m devstack.deploy_template")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
