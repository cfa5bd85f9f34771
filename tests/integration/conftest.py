"""Fixtures of the integration tier: the same tests against DynamoDB Local and moto."""

from __future__ import annotations

import pytest

from chalicelib.bootstrap import services
from chalicelib.store.tables import create_tables
from devstack.services import start_dynamodb_local

_ready: set[str] = set()


@pytest.fixture(scope="session")
def dynamodb_local():
    server = start_dynamodb_local()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["dynamodb-local", "moto"])
def backend(request, monkeypatch, wechat, sms_env, stack):
    """Environment pointing the models at one backend, tables created once per backend."""
    from tests.conftest import TEST_ENV, WORKER

    server = request.getfixturevalue(
        "dynamodb_local" if request.param == "dynamodb-local" else "moto_server"
    )
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_PREFIX", f"ssp-int-{WORKER}-")
    monkeypatch.setenv("DYNAMODB_ENDPOINT", server.url)
    monkeypatch.setenv("S3_ENDPOINT", stack["moto"].url)
    monkeypatch.setenv("WECHAT_API_BASE", wechat.url)
    monkeypatch.setenv("SQS_ENDPOINT", stack["moto"].url)
    monkeypatch.setenv("NOTIFY_QUEUE_URL", stack["queue_url"])
    svc = services()
    if server.url not in _ready:
        create_tables(svc.settings)
        _ready.add(server.url)
    return request.param


@pytest.fixture
def cloud(backend, dynamodb_local, monkeypatch):
    """The app behind a local HTTP server on DynamoDB Local, through a cloud-like proxy."""
    from tests.workflow_helpers import cloud_like_stack

    with cloud_like_stack(dynamodb_local.url, monkeypatch) as stack:
        yield stack
