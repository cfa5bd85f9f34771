"""The deployment template: generated from the models, packaged by Chalice, least privilege."""

from __future__ import annotations

import json
import os
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


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for resource in template["Resources"].values():
        if resource.get("Type") in IAM_TYPES:
            properties = resource["Properties"]
            documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
            if "PolicyDocument" in properties:
                documents.append(properties["PolicyDocument"])
            for document in documents:
                statements.extend(document["Statement"])
    return statements


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
    assert function["Type"] == "AWS::Serverless::Function"
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


def test_role_is_least_privilege(sam: dict, environment: dict) -> None:
    statements = _statements(sam)
    assert statements
    prefix = environment["TABLE_PREFIX"]
    tables = {f"arn:aws:dynamodb:*:*:table/{prefix}{m.Meta.logical_name}" for m in ALL_MODELS}
    indexes = {f"{arn}/index/*" for arn in tables}
    bucket = environment["UPLOAD_BUCKET"]
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
        if any(action.startswith("dynamodb:") for action in actions):
            assert set(resources) <= tables | indexes, statement
        if any(action.startswith("s3:") for action in actions):
            assert all(r.startswith(f"arn:aws:s3:::{bucket}") for r in resources), statement
            object_resources = [r for r in resources if r != f"arn:aws:s3:::{bucket}"]
            assert set(object_resources) <= {
                f"arn:aws:s3:::{bucket}/uploads/*",
                f"arn:aws:s3:::{bucket}/qrcodes/*",
            }
        if any(action.startswith("logs:") for action in actions):
            assert all(":log-group:/aws/lambda/suishoupai-prod" in r for r in resources)
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
    }
    assert needed <= granted


@pytest.mark.parametrize("stage", deploy_template.STAGES)
def test_stage_policies_name_only_their_own_tables(stage: str) -> None:
    config = load_config()
    document = build_policy(config, stage)
    prefix = deploy_template.stage_environment(config, stage)["TABLE_PREFIX"]
    for statement in document["Statement"]:
        for resource in _items(statement["Resource"]):
            if resource.startswith("arn:aws:dynamodb:"):
                assert resource.split(":table/", 1)[1].startswith(prefix)
    assert (ROOT / ".chalice" / f"resources-{stage}.json").exists()
