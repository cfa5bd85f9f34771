"""Deployment templates generated from the models: `python -m devstack.deploy_template`.

Writes, for each deployed stage (dev, prod):

- `.chalice/resources-<stage>.json`: the merge template for `chalice package` (DynamoDB tables
  from `ALL_MODELS`, the private upload bucket, the API function's name);
- `.chalice/policy-<stage>.json`: the Lambda role's least-privilege policy (Chalice's
  per-stage `iam_policy_file`).

Table names are `TABLE_PREFIX` + `Meta.logical_name` and the bucket is `UPLOAD_BUCKET`, both
read from that stage's `.chalice/config.json`, so the template, the policy and the Lambda's
environment always agree. `--check` exits 1 when the committed files differ (CI).

    python -m devstack.deploy_template
    chalice package --stage prod --merge-template .chalice/resources-prod.json build/prod
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.store.models import ALL_MODELS, TTL_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
STAGES = ("dev", "prod")
RETAINED_STAGES = frozenset({"prod"})
PARTITION = "aws"  # "aws-cn" for the Beijing/Ningxia regions

# DynamoDB actions the code performs (PynamoDB 6.1): Model.get -> GetItem, save -> PutItem,
# update -> UpdateItem, delete -> DeleteItem, query -> Query; TransactWrite.save needs PutItem
# on each table (TransactWriteItems is not an IAM action). PynamoDB 6 builds its table metadata
# from the model classes, so DescribeTable is only needed by `Model.exists()`/`create_table`
# (local stack only). Add an action here when the code starts using it (batch_get ->
# BatchGetItem, TransactWrite.condition_check -> ConditionCheckItem); never Scan.
DYNAMODB_TABLE_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
DYNAMODB_INDEX_ACTIONS = ("dynamodb:Query",)
# uploads/: presigned POST (signed with PutObject), HeadObject and presigned GET (GetObject);
# qrcodes/: generated PNGs stored and read back.
S3_OBJECT_PREFIXES = ("uploads/", "qrcodes/")
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")
API_HANDLER = "APIHandler"
# Chalice takes the runtime from the packaging interpreter; every runtime dependency is
# pure Python, so the template pins a supported Lambda runtime instead.
LAMBDA_RUNTIME = "python3.12"


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


def function_name(config: dict[str, Any], stage: str) -> str:
    """Name of the stage's API function (Chalice's `<app>-<stage>` convention)."""
    return f"{config['app_name']}-{stage}"


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
    """The private upload bucket and its TLS-only bucket policy."""
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


def build_resources(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The merge template of `stage`: tables, upload bucket, the API function's fixed name."""
    env = stage_environment(config, stage)
    resources: dict[str, Any] = {
        # A fixed name lets the role's log permissions name the function's log group.
        API_HANDLER: {
            "Properties": {"FunctionName": function_name(config, stage), "Runtime": LAMBDA_RUNTIME}
        },
    }
    for model in ALL_MODELS:
        resources[table_logical_id(model)] = {
            "Type": "AWS::DynamoDB::Table",
            **_retention(stage),
            "Properties": table_properties(model, env["TABLE_PREFIX"] + model.Meta.logical_name),
        }
    resources.update(bucket_resources(env["UPLOAD_BUCKET"], stage))
    outputs = {
        "UploadBucketName": {"Value": {"Ref": "UploadBucket"}},
        "TablePrefix": {"Value": env["TABLE_PREFIX"]},
    }
    return {"Resources": resources, "Outputs": outputs}


def build_policy(config: dict[str, Any], stage: str) -> dict[str, Any]:
    """The Lambda role's policy of `stage`; each Sid says why the statement exists."""
    env = stage_environment(config, stage)
    function = function_name(config, stage)
    bucket = env["UPLOAD_BUCKET"]
    table_arn = f"arn:{PARTITION}:dynamodb:*:*:table/{env['TABLE_PREFIX']}"
    log_group = f"arn:{PARTITION}:logs:*:*:log-group:/aws/lambda/{function}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LogsOnlyToThisStagesFunctionLogGroups",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group, f"{log_group}:*", f"{log_group}-*"],
            },
            {
                "Sid": "DynamoItemReadWriteOnStageTablesNoScan",
                "Effect": "Allow",
                "Action": list(DYNAMODB_TABLE_ACTIONS),
                "Resource": [table_arn + model.Meta.logical_name for model in ALL_MODELS],
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
