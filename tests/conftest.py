"""Shared fixtures: moto's server with tables, bucket and demo data; the app's test client;
the whole local stack (`make run`) for the tests that use the system from outside.

Tests may run in parallel processes (pytest-xdist, `make test`): each worker has its own
moto, emulators and DynamoDB Local on ports picked by the kernel, and names its tables and
bucket after itself (`PYTEST_XDIST_WORKER`), so no state is shared between workers.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from chalice.test import Client

from devstack.services import MotoServer, start_moto

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "ap-east-1",
    "AWS_REGION": "ap-east-1",
    "STAGE": "local",
    "TABLE_PREFIX": f"ssp-test-{WORKER}-",
    "UPLOAD_BUCKET": f"ssp-test-{WORKER}-uploads",
    "WECHAT_APPID": "wx-local-appid",
    "WECHAT_SECRET": "local-secret",
    "SESSION_SECRET": "test-session-secret",
    # The session's tables keep the SMS ledger of the shared demo deputies across tests;
    # the notice delivery tests set the real 30 s gap and daily cap themselves.
    "SMS_GAP_SECONDS": "0",
    "SMS_DAILY_CAP": "1000",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's server for the whole session."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(moto_server, wechat_emulator) -> Iterator[dict]:
    """Environment pointing at moto and the WeChat emulator, with tables and demo data."""
    saved = dict(os.environ)
    os.environ.update(TEST_ENV)
    os.environ["DYNAMODB_ENDPOINT"] = moto_server.url
    os.environ["S3_ENDPOINT"] = moto_server.url
    os.environ["WECHAT_API_BASE"] = wechat_emulator.url
    os.environ["SQS_ENDPOINT"] = moto_server.url

    from chalicelib.bootstrap import services
    from chalicelib.store.tables import create_tables
    from devstack.seed import load_demo
    from devstack.stack import create_notice_queue

    svc = services()
    create_tables(svc.settings)
    svc.uploads.create_bucket()
    queue_url = create_notice_queue(svc)
    os.environ["NOTIFY_QUEUE_URL"] = queue_url
    logins = load_demo(svc)["logins"]
    _demo_state.update(
        moto=moto_server, tables=moto_server.snapshot_tables(TEST_ENV["TABLE_PREFIX"])
    )
    try:
        yield {
            "logins": logins,
            "moto": moto_server,
            "wechat": wechat_emulator,
            "queue_url": queue_url,
        }
    finally:
        _demo_state.clear()
        os.environ.clear()
        os.environ.update(saved)


_demo_state: dict = {}


@pytest.fixture(scope="module", autouse=True)
def demo_data_only():
    """Each test module starts from the session's tables as the demo data left them.

    The tables are put back from a copy taken after the seed (moto runs in this process),
    so what earlier modules wrote is gone (a notice still queued for it finds no outbox
    item, which the worker skips, as in the cloud): a test's
    sweeps, scans and transactions cost what its own data costs, not what the session
    piled up before it (a sweep taking 2 s alone took 50 s at the end of the API tier).
    """
    if _demo_state:
        _demo_state["moto"].restore_tables(_demo_state["tables"])
    yield


@pytest.fixture
def env(stack, wechat, sms_env, wecom_env, monkeypatch) -> dict:
    """The session stack with a clean emulator, the environment restored after the test."""
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DYNAMODB_ENDPOINT", stack["moto"].url)
    monkeypatch.setenv("S3_ENDPOINT", stack["moto"].url)
    monkeypatch.setenv("WECHAT_API_BASE", wechat.url)
    monkeypatch.setenv("SQS_ENDPOINT", stack["moto"].url)
    monkeypatch.setenv("NOTIFY_QUEUE_URL", stack["queue_url"])
    return stack


@pytest.fixture
def client(env) -> Iterator[Client]:
    """`chalice.test.Client` on the app (stage "local")."""
    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


class Api:
    """Small helper around the test client: JSON in, JSON out, bearer tokens."""

    def __init__(self, client: Client):
        self.client = client

    def login(self, code: str | None = None) -> dict:
        """Log in with `code` (a new citizen when omitted); returns the login body."""
        code = code or f"citizen-{uuid.uuid4().hex[:12]}"
        response = self.request("POST", "/auth/login", {"code": code})
        assert response.status_code == 200, response.body
        return json.loads(response.body)

    def headers(self, token: str | None, extra: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return headers

    def request(self, method, path, body=None, token=None, headers=None, raw: bytes | str = None):
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.client.http.request(
            method, path, headers=self.headers(token, headers), body=payload
        )

    def json(self, method, path, body=None, token=None, headers=None, raw=None):
        response = self.request(method, path, body, token, headers, raw)
        return response.status_code, json.loads(response.body) if response.body else None


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture(scope="session")
def whole_stack():
    """`python -m devstack run` (what `make run` starts) on free ports, once per session.

    Shared by every test that uses the system from outside (the end-to-end tests, and the
    browser tier can take it too): the browser build talks to the API through `proxy`
    (`tests/browser/proxy.py`), which a test can make lose answers or go down. Stopped with
    Ctrl-C (SIGINT) at the end; the stack must stop on it and exit with status 0.
    """
    from devstack.running import start_running_stack
    from tests.browser.proxy import ApiProxy

    proxy = ApiProxy().start()
    try:
        running = start_running_stack({"SSP_H5_API_BASE": proxy.url})
    except RuntimeError as error:
        proxy.stop()
        pytest.fail(str(error))
    proxy.upstream = running.urls["api"]
    running.proxy = proxy
    try:
        yield running
    finally:
        status = running.stop()
        proxy.stop()
    assert status is not None, "stack did not stop on Ctrl-C"
    assert status == 0, "".join(running.lines[-20:])
