"""openapi.yaml is valid, covers exactly the app's routes, and agrees with the code's rules."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

from app import app
from chalicelib.adapters.uploads import ALLOWED_TYPES
from chalicelib.api import station_routes
from chalicelib.auth.tokens import ROLES
from chalicelib.errors import InvalidField
from chalicelib.reports import reading, submission
from chalicelib.reports.categories import leaf_categories
from chalicelib.reports.views import EVENT_NAMES
from chalicelib.workflow import operations as workflow
from chalicelib.workflow import tasks, work_orders
from chalicelib.workflow.states import STATE_NAMES

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_REF = "#/components/schemas/Error"
LOGIN_OPERATIONS = {"oauthLogin"}


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
            # A login route answers 401 for a refused credential (the web OAuth code).
            if operation["operationId"] not in LOGIN_OPERATIONS:
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


def test_operations_reading_a_json_body_document_it():
    """A view that calls `json_body()` documents a required JSON body, 400 and 413; others none."""
    for method, path, operation in operations():
        view = app.routes[path][method].view_function
        reads_body = "json_body(" in inspect.getsource(view)
        documented = operation.get("requestBody")
        if reads_body:
            assert documented and documented.get("required"), f"{method} {path} requestBody"
            assert "application/json" in documented["content"], f"{method} {path} body type"
            assert {"400", "413"} <= set(operation["responses"]), f"{method} {path} 400/413"
        else:
            assert documented is None, f"{method} {path} documents a body it never reads"
            assert "413" not in operation["responses"], f"{method} {path}: 413 without a body"


def _tree(function) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def _not_in_literal(function, name: str) -> set:
    """The constants of the check `name not in (...)` in `function`."""
    for node in ast.walk(_tree(function)):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Name)
            and node.left.id == name
            and isinstance(node.ops[0], ast.NotIn)
        ):
            return set(ast.literal_eval(node.comparators[0]))
    raise AssertionError(f"{function.__name__} has no `{name} not in (...)`")


def _chained_range(function, name: str) -> tuple[int, int]:
    """The bounds of the check `low <= name <= high` in `function`."""
    for node in ast.walk(_tree(function)):
        if (
            isinstance(node, ast.Compare)
            and len(node.comparators) == 2
            and isinstance(node.comparators[0], ast.Name)
            and node.comparators[0].id == name
        ):
            return ast.literal_eval(node.left), ast.literal_eval(node.comparators[1])
    raise AssertionError(f"{function.__name__} has no `low <= {name} <= high`")


def _length_limit(function, name: str) -> int:
    """N of the check `len(name) > N` in `function`."""
    for node in ast.walk(_tree(function)):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Call)
            and getattr(node.left.func, "id", None) == "len"
            and getattr(node.left.args[0], "id", None) == name
            and isinstance(node.ops[0], ast.Gt)
        ):
            return ast.literal_eval(node.comparators[0])
    raise AssertionError(f"{function.__name__} has no `len({name}) > N`")


def _schema(name: str) -> dict:
    return spec()["components"]["schemas"][name]


def _items_schema(path: str) -> dict:
    response = spec()["paths"][path]["get"]["responses"]["200"]
    return response["content"]["application/json"]["schema"]["properties"]["items"]


def test_workflow_constraints_mirror_the_code():
    states = set(STATE_NAMES)
    assert set(_schema("Report")["properties"]["status"]["enum"]) == states
    assert set(_schema("ReportSummary")["properties"]["status"]["enum"]) == states
    assert set(_schema("ReportEvent")["properties"]["type"]["enum"]) == set(EVENT_NAMES)

    statuses = _param("/tasks", "get", "status")["schema"]["enum"]
    assert statuses == [*tasks.DEPUTY_FILTERS, *work_orders.ORDER_FILTERS]
    assert _schema("Task")["properties"]["status"]["enum"] == list(tasks.TASK_FILTERS)
    assert _schema("DeputyTasks")["properties"]["items"]["maxItems"] == tasks.MAX_TASKS
    assert _schema("WorkOrders")["properties"]["items"]["maxItems"] == work_orders.MAX_PAGE
    assert _schema("WorkOrder")["properties"]["status"]["enum"] == list(STATE_NAMES)
    assert _param("/tasks", "get", "limit")["schema"]["maximum"] == work_orders.MAX_PAGE
    assert _items_schema("/notices/failed")["maxItems"] == tasks.MAX_FAILED

    triage = _json_schema("/reports/{report_id}/triage", "post")
    actions = _not_in_literal(workflow.triage, "action")
    assert set(triage["properties"]["action"]["enum"]) == actions
    branches = {b["properties"]["action"]["enum"][0] for b in triage["oneOf"]}
    assert branches == actions
    deadline = triage["properties"]["deadline_days"]
    low, high = _chained_range(workflow._transfer, "days")
    assert (deadline["minimum"], deadline["maximum"]) == (low, high)

    results = _not_in_literal(workflow.evaluate, "result")
    evaluation = _json_schema("/reports/{report_id}/evaluation", "post")
    assert set(evaluation["properties"]["result"]["enum"]) == results
    assert set(_schema("Evaluation")["properties"]["result"]["enum"]) == results

    reason = _json_schema("/reports/{report_id}/decline", "post")["properties"]["reason"]
    assert reason["maxLength"] == _length_limit(workflow.decline, "reason")

    note_limit = _length_limit(workflow._note, "value")
    workflow._note("x" * note_limit)
    with pytest.raises(InvalidField):
        workflow._note("x" * (note_limit + 1))
    notes = [
        triage["properties"]["note"],
        _json_schema("/reports/{report_id}/progress", "post")["properties"]["note"],
        _json_schema("/reports/{report_id}/resolve", "post")["properties"]["note"],
        evaluation["properties"]["comment"],
    ]
    assert {note["maxLength"] for note in notes} == {note_limit}

    photos = resolve({"$ref": "#/components/schemas/HandlingPhotos"})
    with pytest.raises(InvalidField) as too_many:
        workflow._photos(None, None, [""] * (photos["maxItems"] + 1))
    assert too_many.value.field == "photos"
    with pytest.raises(InvalidField) as within:
        workflow._photos(None, None, [""] * photos["maxItems"])
    assert within.value.field == "photos[0]", "the documented maximum is accepted"
