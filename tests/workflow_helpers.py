"""Helpers of the workflow tests: drive the notice queue and the schedules, walk a report.

The worker Lambda and the scheduled functions are invoked through `chalice.test.Client`
exactly as AWS would invoke them. For concurrency, `serve_app` runs the app behind
`chalice local`'s threaded HTTP server (`HttpApi` talks to it), and `DynamoDBConflicts`
puts a proxy in front of DynamoDB Local that cancels colliding transactions as DynamoDB
in the cloud does, injects cancellation reasons and makes an index lag;
`cloud_like_stack` puts the two together. `long_lived_api` serves module-scoped fixtures.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.bootstrap import services

DEPUTY_CODES = {f"D{n:02d}": f"deputy-{n:02d}" for n in range(1, 15)}
DEPUTY_PHONES = {f"D{n:02d}": f"+86139000000{n:02d}" for n in range(1, 15)}


def drain(api, rounds: int = 200) -> int:
    """Feed the notice queue's messages to the worker Lambda until the queue is empty."""
    sqs = services().sqs
    url = services().settings.notify_queue_url
    handled = 0
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        event = api.client.events.generate_sqs_event(
            message_bodies=[m["Body"] for m in messages], queue_name="suishoupai-notices"
        )
        api.client.lambda_.invoke("deliver_notices", event)
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
    return handled


def settle_queue(api) -> None:
    """Drain the notice queue, then purge what is still delayed or in flight.

    Call before travelling far in time: moto's SQS stops answering a receive at the
    first message older than the queue's retention, so one leftover message of an
    earlier test would hide every message the travelling test sends.
    """
    drain(api)
    services().sqs.purge_queue(QueueUrl=services().settings.notify_queue_url)


class Loop:
    """A citizen's report walked through the loop, with the actors' tokens."""

    def __init__(
        self,
        api,
        category="traffic.parking",
        station="S01",
        text="小区门口乱停车",
        staff="staff-station-01",
    ):
        self.api = api
        self.staff = staff
        self.citizen_code = f"citizen-{uuid.uuid4().hex[:12]}"
        status, report = api.json(
            "POST",
            "/reports",
            {"station_id": station, "category": category, "text": text},
            token=self.citizen,
        )
        assert status == 201, report
        self.id = report["id"]
        drain(api)

    @property
    def citizen(self) -> str:
        """A fresh token of the reporter (tests travel in time past a token's life)."""
        return self.api.login(self.citizen_code)["token"]

    def read(self, token=None):
        status, body = self.api.json("GET", f"/reports/{self.id}", token=token or self.citizen)
        assert status == 200, body
        return body

    def staff_view(self, code=None):
        return self.read(self.api.login(code or self.staff)["token"])

    def candidates(self) -> list[str]:
        return [c["deputy_id"] for c in self.staff_view()["candidates"]]

    def deputy(self, deputy_id: str) -> str:
        return self.api.login(DEPUTY_CODES[deputy_id])["token"]

    def act(self, path: str, token: str, body: dict | None = None):
        status, answer = self.api.json(
            "POST", f"/reports/{self.id}/{path}", body or {}, token=token
        )
        drain(self.api)
        return status, answer


def scheduled_event(client) -> dict:
    """The event EventBridge hands a scheduled function (`client`: a chalice.test.Client)."""
    return client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=[],
        region="ap-east-1",
    )


def run_schedule(api, handler: str) -> dict:
    """Invoke a scheduled function as EventBridge would, then drain the notice queue."""
    payload = api.client.lambda_.invoke(handler, scheduled_event(api.client)).payload
    drain(api)
    return payload


# --- the app over real HTTP, in front of a DynamoDB that conflicts like the cloud's ---------


class HttpApi:
    """The app's HTTP API at `url`: JSON in, JSON out, bearer tokens; safe to share by threads."""

    def __init__(self, url: str):
        self.url = url

    def json(self, method: str, path: str, body=None, token: str | None = None):
        import requests

        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.request(
            method,
            self.url + path,
            headers=headers,
            data=json.dumps(body) if body is not None else None,
            timeout=60,
        )
        return response.status_code, response.json() if response.content else None

    def login(self, code: str | None = None) -> dict:
        """Log in with `code` (a new citizen when omitted); returns the login body."""
        status, body = self.json("POST", "/auth/login", {"code": code or f"c-{uuid.uuid4().hex}"})
        assert status == 200, body
        return body


@contextmanager
def serve_app(app) -> Iterator[str]:
    """The Chalice app behind `chalice local`'s threaded HTTP server on a free port.

    As `chalice.local.create_local_server` does, the app becomes a `LocalChalice` (its
    current request is kept per thread) while the server runs; its class is restored after.
    """
    from chalice.config import Config
    from chalice.local import LocalChalice, LocalDevServer

    original = app.__class__
    if not issubclass(original, LocalChalice):
        app.__class__ = type("LocalApp", (LocalChalice, original), {})
    config = Config.create(chalice_stage="local", lambda_timeout=60)
    server = LocalDevServer(app, config, "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app.__class__ = original


def seed_station(deputies: int, prefix: str = "T") -> tuple[str, list[str]]:
    """A station of a new district with `deputies` reachable deputies (admin data, no logins)."""
    from chalicelib.stations.directory import geo_fields
    from chalicelib.store.models import DeputyModel, StationModel

    tag = uuid.uuid4().hex[:6]
    district, station_id = f"{prefix.lower()}d-{tag}", f"{prefix}S{tag}"
    StationModel(
        station_id,
        name=f"测试联络站{tag}",
        address="测试路1号",
        lat=45.0,
        lng=90.0,
        district_id=district,
        city_id=f"{prefix.lower()}c-{tag}",
        **geo_fields(45.0, 90.0),
    ).save()
    ids = [f"{prefix}D{tag}{n:02d}" for n in range(deputies)]
    for n, deputy_id in enumerate(ids):
        DeputyModel(
            deputy_id,
            name=f"代表{tag}{n:02d}",
            level="district",
            station_id=station_id,
            district_id=district,
            city_id=f"{prefix.lower()}c-{tag}",
            phone=f"+86137{int(tag, 16) % 10**6:06d}{n:02d}"[:14],
        ).save()
    return station_id, ids


def deputy_token(http: HttpApi, deputy_id: str) -> str:
    """Bind a new user to the deputy (as `python -m chalicelib.admin grant` does); its token."""
    from chalicelib.auth.users import grant_role

    code = f"login-{deputy_id}"
    grant_role(http.login(code)["user"]["id"], "deputy", deputy_id=deputy_id)
    return http.login(code)["token"]


def drain_with(client, rounds: int = 200) -> int:
    """`drain` for a bare `chalice.test.Client`."""

    class _Api:
        pass

    holder = _Api()
    holder.client = client
    return drain(holder, rounds)


@dataclass
class _Injection:
    code: str
    table: str
    key: dict
    times: int


class DynamoDBConflicts:
    """An HTTP proxy to DynamoDB Local that treats transactions as DynamoDB in the cloud does.

    DynamoDB Local runs transactions one at a time, so they never collide. In the cloud a
    `TransactWriteItems` touching an item another transaction is still writing is cancelled
    with `TransactionConflict` for that item. The proxy keeps the items of the transactions
    it has in flight (each held `hold_seconds` before DynamoDB Local runs it) and cancels a
    transaction touching one of them the same way. `inject` cancels the next transactions
    touching an item with a chosen code; `lag_index` makes a global secondary index answer
    every query with nothing, as an index that has not caught up yet would. Everything else
    passes through untouched.
    """

    def __init__(self, upstream: str, region: str, hold_seconds: float = 0.015):
        import boto3

        self.upstream = upstream.split("//", 1)[1]
        self.hold_seconds = hold_seconds
        self.conflicts = 0
        self.cancelled: list[list[str]] = []
        self._lock = threading.Lock()
        self._inflight: Counter = Counter()
        self._injections: list[_Injection] = []
        self._lagging: set[tuple[str, str]] = set()
        self._schemas: dict[str, list[str]] = {}
        # DynamoDB Local keeps one database per access key and region: the app's.
        self._client = boto3.client("dynamodb", endpoint_url=upstream, region_name=region)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer
            wbufsize = 1 << 16  # headers and body leave in one write

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = proxy._handle(self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def inject(self, code: str, table: str, key: dict | None = None, times: int = 1) -> None:
        """Cancel the next `times` transactions writing an item of `table` (a logical name,
        e.g. "stats") whose key has the values in `key`, with `code` for that item."""
        with self._lock:
            self._injections.append(_Injection(code, table, dict(key or {}), times))

    def lag_index(self, table: str, index: str) -> None:
        """Answer queries of `index` of `table` (a logical name) with no items from now on."""
        with self._lock:
            self._lagging.add((table, index))

    def _lags(self, request: dict) -> bool:
        table, index = request.get("TableName", ""), request.get("IndexName")
        return any(table.endswith(t) and index == i for t, i in self._lagging)

    def _key_names(self, table: str) -> list[str]:
        if table not in self._schemas:
            schema = self._client.describe_table(TableName=table)["Table"]["KeySchema"]
            self._schemas[table] = [part["AttributeName"] for part in schema]
        return self._schemas[table]

    def _item(self, entry: dict) -> tuple[str, dict]:
        spec = next(iter(entry.values()))
        table = spec["TableName"]
        key = spec.get("Key") or {n: spec["Item"][n] for n in self._key_names(table)}
        return table, {name: next(iter(value.values())) for name, value in key.items()}

    @staticmethod
    def _matches(injection: _Injection, table: str, key: dict) -> bool:
        return table.endswith(injection.table) and all(
            str(key.get(name)) == str(value) for name, value in injection.key.items()
        )

    def _cancel(self, codes: list[str]):
        self.cancelled.append(codes)
        body = {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "CancellationReasons": [
                {"Code": code} if code == "None" else {"Code": code, "Message": code}
                for code in codes
            ],
            "Message": "Transaction cancelled, please refer cancellation reasons for specific "
            f"reasons [{', '.join(codes)}]",
        }
        return 400, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(body).encode()

    def _handle(self, path: str, headers, body: bytes):
        target = headers.get("X-Amz-Target") or ""
        if target.endswith(".Query") and self._lags(json.loads(body)):
            empty = {"Count": 0, "Items": [], "ScannedCount": 0}
            return 200, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(empty).encode()
        if not target.endswith(".TransactWriteItems"):
            return self._forward(path, headers, body)
        items = [self._item(entry) for entry in json.loads(body).get("TransactItems", [])]
        keys = [(table, json.dumps(key, sort_keys=True)) for table, key in items]
        with self._lock:
            for injection in self._injections:
                hits = [self._matches(injection, table, key) for table, key in items]
                if injection.times and any(hits):
                    injection.times -= 1
                    return self._cancel([injection.code if hit else "None" for hit in hits])
            busy = [key in self._inflight for key in keys]
            if any(busy):
                self.conflicts += 1
                return self._cancel(["TransactionConflict" if b else "None" for b in busy])
            self._inflight.update(keys)
        try:
            time.sleep(self.hold_seconds)
            return self._forward(path, headers, body)
        finally:
            with self._lock:
                self._inflight.subtract(keys)
                self._inflight += Counter()  # drop the zero counts

    def _forward(self, path: str, headers, body: bytes):
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            skip = {"host", "connection", "content-length"}
            connection.request(
                "POST",
                path,
                body=body,
                headers={k: v for k, v in headers.items() if k.lower() not in skip},
            )
            response = connection.getresponse()
            payload = response.read()
            keep = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            return response.status, keep, payload
        finally:
            connection.close()


@dataclass
class CloudStack:
    """The app over HTTP on DynamoDB Local behind `DynamoDBConflicts`, with its own queue."""

    proxy: DynamoDBConflicts
    http: HttpApi
    client: object  # chalice.test.Client: the worker Lambda and the schedules

    def drain(self) -> int:
        """Run the queued jobs (matching) and deliver the queued notices."""
        return drain_with(self.client)

    def submit(self, station_id: str, text: str, category: str = "other.other") -> str:
        """A new citizen's report at the station, matched and offered; its id."""
        citizen = self.http.login()["token"]
        status, body = self.http.json(
            "POST",
            "/reports",
            {"station_id": station_id, "category": category, "text": text},
            token=citizen,
        )
        assert status == 201, body
        self.drain()
        return body["id"]


@contextmanager
def cloud_like_stack(dynamodb_url: str, monkeypatch) -> Iterator[CloudStack]:
    """`CloudStack` on the DynamoDB Local at `dynamodb_url` (tables already created)."""
    from chalice.test import Client

    from app import app

    proxy = DynamoDBConflicts(dynamodb_url, services().settings.region)
    monkeypatch.setenv("DYNAMODB_ENDPOINT", proxy.url)
    sqs = services().sqs
    queue_url = sqs.create_queue(
        QueueName=f"ssp-it-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "60"}
    )["QueueUrl"]
    monkeypatch.setenv("NOTIFY_QUEUE_URL", queue_url)
    try:
        with serve_app(app) as url, Client(app, stage_name="local") as client:
            yield CloudStack(proxy, HttpApi(url), client)
    finally:
        proxy.stop()
        sqs.delete_queue(QueueUrl=queue_url)


@contextmanager
def long_lived_api(stack, wechat_emulator, sms_emulator, wecom_emulator) -> Iterator:
    """An `Api` on the session stack for a whole module (or class) of tests.

    The environment of the `env`, `sms_env` and `wecom_env` fixtures, set for as long as
    the context lasts, with the emulators reset once at its start: for module-scoped
    fixtures that build reports once for many tests.
    """
    import pytest
    from chalice.test import Client

    from app import app
    from tests.conftest import TEST_ENV, Api

    for emulator in (wechat_emulator, sms_emulator, wecom_emulator):
        emulator.state.reset()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_ENV.items():
            patch.setenv(name, value)
        patch.setenv("DYNAMODB_ENDPOINT", stack["moto"].url)
        patch.setenv("S3_ENDPOINT", stack["moto"].url)
        patch.setenv("SQS_ENDPOINT", stack["moto"].url)
        patch.setenv("NOTIFY_QUEUE_URL", stack["queue_url"])
        patch.setenv("WECHAT_API_BASE", wechat_emulator.url)
        patch.setenv("WECHAT_APPID", wechat_emulator.state.appid)
        patch.setenv("WECHAT_SECRET", wechat_emulator.state.secret)
        patch.setenv("SMS_ENDPOINT", sms_emulator.endpoint)
        patch.setenv("SMS_PROTOCOL", "http")
        patch.setenv("SMS_REGION", "ap-guangzhou")
        patch.setenv("SMS_SECRET_ID", sms_emulator.state.secret_id)
        patch.setenv("SMS_SECRET_KEY", sms_emulator.state.secret_key)
        patch.setenv("SMS_APP_ID", sms_emulator.state.sdk_app_id or "1400000000")
        patch.setenv("SMS_TIMEOUT_SECONDS", "2")
        patch.setenv("WECOM_WEBHOOK_BASE", wecom_emulator.send_url)
        patch.setenv("WECOM_TIMEOUT_SECONDS", "2")
        with Client(app, stage_name="local") as client:
            yield Api(client)


def wechat_sends(wechat, template_id: str, report_id: str) -> list[dict]:
    """Subscribe messages of one template about one report that WeChat accepted."""
    return [
        c
        for c in wechat.state.calls("subscribe_send")
        if c["body"].get("template_id") == template_id
        and report_id in (c["body"].get("page") or "")
        and c.get("errcode") in (0, None)
    ]
