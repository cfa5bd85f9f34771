"""openapi.yaml is valid, covers exactly the app's routes, and agrees with the code's rules."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from app import app
from chalicelib.adapters.uploads import ALLOWED_TYPES
from chalicelib.api import station_routes
from chalicelib.auth.tokens import ROLES
from chalicelib.reports import reading, submission
from chalicelib.reports.categories import leaf_categories

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_REF = "#/components/schemas/Error"


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def resolve(node: dict) -> dict:
    """`node`, or what its local `$ref` points at (followed until not a ref)."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local refs are used: {ref}"
        node = spec()
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def operations() -> Iterator[tuple[str, str, dict]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def app_routes() -> set[tuple[str, str]]:
    return {(method, path) for path, entries in app.routes.items() for method in entries}


def requires_auth(operation: dict) -> bool:
    return bool(operation.get("security", spec().get("security", [])))


def uses_error_schema(response: dict) -> bool:
    schema = resolve(response).get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == ERROR_REF


def walk_refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from walk_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_refs(value)


def test_document_is_valid_openapi_3():
    validator = pytest.importorskip("openapi_spec_validator")
    assert spec()["openapi"].startswith("3.0.")
    validator.validate(spec())


def test_document_structure():
    document = spec()
    assert document["openapi"] == "3.0.3"
    assert {"title", "version"} <= set(document["info"])
    for ref in set(walk_refs(document)):
        resolve({"$ref": ref})  # raises KeyError when dangling
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, operation in operations():
        for key in ("summary", "description", "responses"):
            assert operation.get(key), f"{method} {path} lacks {key}"
        assert any(code.startswith("2") for code in operation["responses"]), (
            f"{method} {path} documents no success response"
        )
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "field"}


def test_documented_routes_match_app():
    documented = {(method, path) for method, path, _ in operations()}
    routes = app_routes()
    missing = sorted(routes - documented)
    extra = sorted(documented - routes)
    assert not missing and not extra, (
        f"missing from openapi.yaml: {missing}; documented but absent from the app: {extra}"
    )


def test_path_parameters_match_view_arguments():
    for method, path, operation in operations():
        params = [resolve(p) for p in spec()["paths"][path].get("parameters", [])]
        params += [resolve(p) for p in operation.get("parameters", [])]
        documented = {p["name"] for p in params if p["in"] == "path"}
        expected = set(app.routes[path][method].view_args)
        assert documented == expected, f"{method} {path}: path parameters {documented}"


def test_every_operation_documents_a_client_error_with_the_shared_schema():
    for method, path, operation in operations():
        client_errors = {
            code: response
            for code, response in operation["responses"].items()
            if str(code).startswith("4")
        }
        assert any(uses_error_schema(r) for r in client_errors.values()), (
            f"{method} {path} documents no 4xx response with the shared Error schema"
        )
        for code, response in operation["responses"].items():
            if not str(code).startswith("2"):
                assert uses_error_schema(response), f"{method} {path} {code} is not an Error"


def test_authenticated_operations_document_401():
    schemes = spec()["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    for method, path, operation in operations():
        if requires_auth(operation):
            assert "401" in operation["responses"], f"{method} {path} requires auth but lacks 401"
            assert operation["security"] == [{"bearerAuth": []}], f"{method} {path} security"
        else:
            assert "401" not in operation["responses"], f"{method} {path}: 401 without auth"


def test_auth_requirement_matches_the_code():
    """An operation is documented as authenticated exactly when its view calls `caller()`."""
    for method, path, operation in operations():
        view = app.routes[path][method].view_function
        calls_caller = "caller(" in inspect.getsource(view)
        assert requires_auth(operation) == calls_caller, (
            f"{method} {path}: documented auth {requires_auth(operation)}, "
            f"code calls caller(): {calls_caller}"
        )


def _json_schema(path: str, method: str) -> dict:
    operation = spec()["paths"][path][method]
    return resolve(operation["requestBody"]["content"]["application/json"]["schema"])


def _param(path: str, method: str, name: str) -> dict:
    for param in spec()["paths"][path][method].get("parameters", []):
        param = resolve(param)
        if param["name"] == name:
            return param
    raise AssertionError(f"{method.upper()} {path} lacks parameter {name}")


def test_request_constraints_mirror_the_code():
    report = _json_schema("/reports", "post")
    props = report["properties"]
    assert report["additionalProperties"] is False
    assert set(props) == submission.FIELDS
    assert props["photos"]["maxItems"] == submission.MAX_PHOTOS
    assert props["text"]["maxLength"] == submission.MAX_TEXT
    assert props["address"]["maxLength"] == submission.MAX_ADDRESS
    assert props["station_id"]["pattern"] == submission.STATION_ID.pattern
    assert set(props["category"]["enum"]) == set(leaf_categories())

    key = _param("/reports", "post", "Idempotency-Key")
    assert key["in"] == "header" and not key.get("required", False)
    assert key["schema"]["pattern"] == submission.IDEMPOTENCY_KEY.pattern

    upload = _json_schema("/uploads", "post")["properties"]
    assert set(upload["content_type"]["enum"]) == set(ALLOWED_TYPES)

    stations_limit = _param("/stations", "get", "limit")["schema"]
    assert stations_limit["maximum"] == station_routes.MAX_STATIONS
    page_limit = _param("/reports/mine", "get", "limit")["schema"]
    assert page_limit["maximum"] == reading.MAX_PAGE
    assert page_limit["default"] == reading.DEFAULT_PAGE

    roles = resolve({"$ref": "#/components/schemas/User"})["properties"]["roles"]["items"]
    assert set(roles["enum"]) == set(ROLES)
