"""Load test of deputy notices: reports over HTTP → offers → WeChat + SMS through flaky providers.

    python bench/notify.py [--n 1000] [--clients 4] [--workers 8] [--fault-rate 0.2]

Composes the local stack of `devstack.stack` from separate processes, so that the providers and
AWS do not share the workers' interpreter lock: AWS's DynamoDB Local (Java) for DynamoDB, moto
for S3, an SQS (below), the WeChat and SMS emulators, `chalice local`; loads the demo data, runs in
this process what AWS would run besides the API: the notice-queue consumer (`--workers` pollers
of the one queue, like concurrent Lambda invocations) and the schedules. (moto's DynamoDB
deep-copies every table a TransactWriteItems touches, so its cost grows with the data: 200
reports already took minutes there.)

The emulators run from this file (`--serve-emulator`, internal) with a fault injector in front
of their own fault machinery (their faults have `times` but no probability, and a control-API
thread cannot tell which call is the 5th): exactly `--fault-rate` of the `subscribe_send` /
`SendSms` calls, every 5th at 20 %, get the emulator's own fault objects, the kinds in turn:
WeChat errcode 45009, HTTP 500, an answer slower than the client's timeout; SMS
`InternalError.Timeout`, HTTP 500. Each recorded call is marked with what was injected.

SQS is, by default, a lean queue served from this file (`--sqs lean`): moto's SQS walks every
stored message on each call, so with a few thousand notices queued each call takes 0.2-3 s and
the bench measures moto. `--sqs moto` uses moto anyway.

Citizens log in through the WeChat emulator and submit `--n` reports from `--clients` threads,
spread over the demo stations and categories; each report is offered to MATCH_TOP_K deputies,
one WeChat and one SMS notice each. When every offer's outbox item is final (or the `--budget`
is nearly spent) the workers stop and the emulators' records are matched to (report, deputy,
channel) and counted; an item not final by then counts as lost.

Prints figures only; exits non-zero only if something breaks (e.g. a submission is refused).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TABLE_PREFIX = "ssp-bench-"
TEXT = "第{i}号：{place}附近{what}，已经持续一段时间，影响居民出行和生活，希望尽快处理。"
OFFER_PURPOSE = "task_offered"
FINAL = ("sent", "skipped", "failed", "unconfirmed")
WECHAT_FAULTS = ("errcode 45009", "HTTP 500", "slow answer")
SMS_FAULTS = ("InternalError.Timeout", "HTTP 500")


# --------------------------------------------------------------------------- statistics


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def secs(value: float) -> str:
    return "    -" if math.isnan(value) else f"{value:6.1f}s"


# --------------------------------------------------------------------------- emulator children


class FaultInjector:
    """Wraps an emulator state's `take_fault` / `record`: exactly `rate` of the provider calls
    (the k-th call is faulted when floor(k x rate) steps up: every 5th at 20 %) get one of
    `kinds` (a fault object of the emulator, taken in turn), and the call record says which."""

    def __init__(self, state, rate: float, kinds: dict[str, object], applies) -> None:
        self.rate = rate
        self.kinds = list(kinds.items())
        self.calls = 0
        self.faulted = 0
        self.lock = threading.Lock()
        self.local = threading.local()
        self.applies = applies  # take_fault's arguments -> whether this call may be faulted
        self._take = state.take_fault
        self._record = state.record
        state.take_fault = self.take_fault
        state.record = self.record

    def take_fault(self, *args, **kwargs):
        fault = self._take(*args, **kwargs)  # faults set through the control API come first
        if fault is None and self.applies(*args, **kwargs):
            with self.lock:
                self.calls += 1
                hit = math.floor(self.calls * self.rate + 1e-9) > self.faulted
                if hit:
                    name, fault = self.kinds[self.faulted % len(self.kinds)]
                    self.faulted += 1
            if hit:
                self.local.injected = name
        return fault

    def record(self, call: dict) -> None:
        call["injected"] = getattr(self.local, "injected", None)
        self.local.injected = None
        self._record(call)


def serve_emulator(args) -> None:
    """Child process: one emulator with the fault injector, until terminated."""
    from werkzeug.serving import make_server

    rate = args.fault_rate
    if args.serve_emulator == "wechat":
        from devstack import wechat_emulator as emu

        state = emu.EmulatorState(appid=args.appid, secret=args.secret)

        def fault(**kw):
            return emu.Fault(api="subscribe_send", times=-1, **kw)

        kinds = {
            "errcode 45009": fault(errcode=45009),
            "HTTP 500": fault(http_status=500),
            "slow answer": fault(delay_seconds=args.slow_seconds),
        }
        FaultInjector(state, rate, kinds, lambda api: api == "subscribe_send")
        server = make_server(
            "127.0.0.1",
            args.port,
            emu.create_app(state),
            threaded=True,
            request_handler=emu.KeepAliveHandler,
        )
    else:
        from devstack import sms_emulator as emu
        from devstack.stack import SMS_APP_ID, SMS_SECRET_ID, SMS_SECRET_KEY

        state = emu.SmsEmulatorState(SMS_SECRET_ID, SMS_SECRET_KEY, SMS_APP_ID)
        kinds = {
            "InternalError.Timeout": emu.Fault(code="InternalError.Timeout", times=-1),
            "HTTP 500": emu.Fault(http_status=500, times=-1),
        }
        # take_fault() without a phone is the request-level fault; per-number ones stay as set.
        FaultInjector(state, rate, kinds, lambda phone=None: phone is None)
        server = make_server("127.0.0.1", args.port, emu.create_app(state), threaded=True)
    server.serve_forever()


# --------------------------------------------------------------------------- a lean SQS


class LeanQueue:
    """One standard SQS queue: at-least-once, visibility timeout, per-message delay, long polls;
    every operation O(log n) (moto's SQS walks every stored message on each call)."""

    def __init__(self, name: str, url: str, visibility: int) -> None:
        self.name, self.url, self.visibility = name, url, visibility
        self.cond = threading.Condition()
        self.messages: dict[str, dict] = {}  # id -> message
        self.ready: deque[str] = deque()  # visible ids, oldest first
        self.timed: list[tuple[float, int, str]] = []  # (visible at, seq, id): delayed/in flight
        self.handles: dict[str, str] = {}  # receipt handle -> id
        self.seq = itertools.count()

    def send(self, body: str, delay: int) -> dict:
        message_id = str(uuid.uuid4())
        now = time.time()
        digest = hashlib.md5(body.encode()).hexdigest()
        with self.cond:
            message = {"id": message_id, "body": body, "md5": digest, "sent": now, "count": 0}
            message["visible_at"] = now + delay
            self.messages[message_id] = message
            if delay > 0:
                heapq.heappush(self.timed, (now + delay, next(self.seq), message_id))
            else:
                self.ready.append(message_id)
            self.cond.notify()
        return {"MessageId": message_id, "MD5OfMessageBody": digest}

    def _due(self, now: float) -> None:
        while self.timed and self.timed[0][0] <= now:
            at, _, message_id = heapq.heappop(self.timed)
            message = self.messages.get(message_id)
            if message is not None and message["visible_at"] == at:
                self.ready.append(message_id)

    def receive(self, most: int, wait: float, visibility: int | None) -> list[dict]:
        deadline = time.time() + wait
        visibility = self.visibility if visibility is None else visibility
        out: list[dict] = []
        with self.cond:
            while True:
                now = time.time()
                self._due(now)
                while self.ready and len(out) < most:
                    message = self.messages.get(self.ready.popleft())
                    if message is None or message["visible_at"] > now:
                        continue  # deleted, or handed out again meanwhile
                    message["count"] += 1
                    message.setdefault("first", now)
                    message["visible_at"] = now + visibility
                    heapq.heappush(self.timed, (now + visibility, next(self.seq), message["id"]))
                    handle = f"{message['id']}#{uuid.uuid4().hex}"
                    self.handles[handle] = message["id"]
                    out.append(
                        {
                            "MessageId": message["id"],
                            "ReceiptHandle": handle,
                            "MD5OfBody": message["md5"],
                            "Body": message["body"],
                            "Attributes": {
                                "SenderId": "000000000000",
                                "SentTimestamp": str(int(message["sent"] * 1000)),
                                "ApproximateReceiveCount": str(message["count"]),
                                "ApproximateFirstReceiveTimestamp": str(
                                    int(message["first"] * 1000)
                                ),
                            },
                        }
                    )
                if out or now >= deadline:
                    return out
                until = deadline - now
                if self.timed:
                    until = min(until, max(0.0, self.timed[0][0] - now))
                self.cond.wait(until + 0.001)

    def delete(self, handle: str) -> bool:
        with self.cond:
            message_id = self.handles.pop(handle, None)
            if message_id is None:
                return False
            self.messages.pop(message_id, None)
            return True

    def attributes(self) -> dict[str, str]:
        with self.cond:
            now = time.time()
            visible = sum(1 for m in self.messages.values() if m["visible_at"] <= now)
            return {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(len(self.messages) - visible),
                "VisibilityTimeout": str(self.visibility),
                "QueueArn": f"arn:aws:sqs:ap-east-1:000000000000:{self.name}",
            }


def serve_sqs(port: int) -> None:
    """Child process: the SQS JSON protocol (the operations the app and workers use)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    queues: dict[str, LeanQueue] = {}
    lock = threading.Lock()
    base = f"http://127.0.0.1:{port}/000000000000/"

    class NoQueue(Exception):
        pass

    def queue(body: dict) -> LeanQueue:
        found = queues.get(str(body.get("QueueUrl", "")).rsplit("/", 1)[-1])
        if found is None:
            raise NoQueue(body.get("QueueUrl"))
        return found

    def create(body: dict) -> dict:
        name = body["QueueName"]
        with lock:
            if name not in queues:
                visibility = int((body.get("Attributes") or {}).get("VisibilityTimeout", 30))
                queues[name] = LeanQueue(name, base + name, visibility)
        return {"QueueUrl": base + name}

    def send_batch(body: dict) -> dict:
        q = queue(body)
        done = []
        for entry in body.get("Entries", []):
            sent = q.send(entry["MessageBody"], int(entry.get("DelaySeconds") or 0))
            done.append({"Id": entry["Id"], **sent})
        return {"Successful": done, "Failed": []}

    def delete_batch(body: dict) -> dict:
        q = queue(body)
        for entry in body.get("Entries", []):
            q.delete(entry["ReceiptHandle"])  # stale handles succeed silently, as in AWS
        return {"Successful": [{"Id": e["Id"]} for e in body.get("Entries", [])], "Failed": []}

    operations = {
        "CreateQueue": create,
        "GetQueueUrl": lambda b: {"QueueUrl": queue({"QueueUrl": b["QueueName"]}).url},
        "SendMessage": lambda b: queue(b).send(b["MessageBody"], int(b.get("DelaySeconds") or 0)),
        "SendMessageBatch": send_batch,
        "ReceiveMessage": lambda b: {
            "Messages": queue(b).receive(
                int(b.get("MaxNumberOfMessages") or 1),
                float(b.get("WaitTimeSeconds") or 0),
                b.get("VisibilityTimeout"),
            )
        },
        "DeleteMessage": lambda b: (queue(b).delete(b["ReceiptHandle"]), {})[1],
        "DeleteMessageBatch": delete_batch,
        "GetQueueAttributes": lambda b: {"Attributes": queue(b).attributes()},
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # health
            self._answer(200, {"ok": True})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            name = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            operation = operations.get(name)
            if operation is None:
                self._answer(400, {"__type": "com.amazonaws.sqs#InvalidAction", "message": name})
                return
            try:
                self._answer(200, operation(body) or {})
            except NoQueue as error:
                self._answer(
                    400,
                    {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": str(error)},
                )

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


# --------------------------------------------------------------------------- the stack


class Stack:
    """Everything started, stopped in reverse order."""

    def __init__(self) -> None:
        self.stoppers: list = []

    def add(self, stop) -> None:
        self.stoppers.append(stop)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception as error:  # keep stopping the others
                print(f"stop failed: {error!r}", file=sys.stderr)
        self.stoppers.clear()


def start_stack(args, stack: Stack) -> dict:
    """moto, emulators, chalice local (children) and the workers (here); returns the URLs."""
    import requests

    from devstack.services import (
        free_port,
        start_child_server,
        start_dynamodb_local,
        wait_for_http,
    )
    from devstack.stack import create_notice_queue, stack_environment

    here = [sys.executable, str(Path(__file__).resolve())]
    common = ["--fault-rate", str(args.fault_rate)]
    ddb = start_dynamodb_local()
    stack.add(ddb.stop)
    port = free_port()
    moto = start_child_server(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        "/moto-api/",
    )
    stack.add(moto.stop)
    env = stack_environment(moto.url, "")
    port = free_port()
    wechat = start_child_server(
        [*here, "--serve-emulator", "wechat", "--port", str(port), *common]
        + ["--appid", env["WECHAT_APPID"], "--secret", env["WECHAT_SECRET"]]
        + ["--slow-seconds", str(args.slow_seconds)],
        port,
        "/__emulator/health",
    )
    stack.add(wechat.stop)
    port = free_port()
    sms = start_child_server(
        [*here, "--serve-emulator", "sms", "--port", str(port), *common],
        port,
        "/__emulator/health",
    )
    stack.add(sms.stop)
    sqs_url = moto.url
    if args.sqs == "lean":
        port = free_port()
        sqs = start_child_server([*here, "--serve-sqs", "--port", str(port)], port, "/")
        stack.add(sqs.stop)
        sqs_url = sqs.url
    env.update(
        SQS_ENDPOINT=sqs_url,
        WECHAT_API_BASE=wechat.url + "/",
        SMS_ENDPOINT=sms.url.removeprefix("http://"),
        DYNAMODB_ENDPOINT=ddb.url,
        TABLE_PREFIX=TABLE_PREFIX,
        UPLOAD_BUCKET="ssp-bench-uploads",
        MATCH_TOP_K=str(args.top_k),
        NOTIFY_MAX_ATTEMPTS=str(args.max_attempts),
        SMS_GAP_SECONDS=str(args.sms_gap),
        SMS_DAILY_CAP=str(args.sms_daily_cap),
        WECHAT_TIMEOUT_SECONDS=str(args.wechat_timeout),
        SSP_SCHEDULE_SECONDS=str(args.schedule_seconds),
    )
    os.environ.update(env)

    from chalicelib.notify.templates import sms_template_texts

    requests.post(
        sms.url + "/__emulator/templates", json={"templates": sms_template_texts()}, timeout=5
    ).raise_for_status()
    limits = requests.post(
        sms.url + "/__emulator/limits",
        json={"same_content_seconds": 0, "daily_per_number": 0, "hourly_per_number": 0},
        timeout=5,
    ).json()["limits"]

    from chalicelib.bootstrap import services
    from chalicelib.store.tables import create_tables
    from devstack.seed import load_demo

    svc = services()
    create_tables(svc.settings)
    svc.uploads.create_bucket()
    queue_url = create_notice_queue(svc)
    os.environ["NOTIFY_QUEUE_URL"] = queue_url
    load_demo(svc)

    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115
        "w", prefix="bench-notify-chalice-", suffix=".log", delete=False
    )
    stack.add(log.close)

    api = subprocess.Popen(
        [str(Path(sys.executable).parent / "chalice"), "local", "--host", "127.0.0.1"]
        + ["--port", str(port), "--stage", "local", "--no-autoreload"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop_api() -> None:
        api.terminate()
        try:
            api.wait(timeout=10)
        except subprocess.TimeoutExpired:
            api.kill()

    stack.add(stop_api)
    wait_for_http(f"{api_url}/categories", timeout=60)

    from chalicelib.api.notify_handlers import NOTICE_QUEUE
    from devstack.workers import QueueWorker, start_workers

    workers = start_workers({NOTICE_QUEUE: queue_url})
    extra = []
    if workers.queue_workers:
        first = workers.queue_workers[0]
        for _ in range(args.workers - 1):
            extra.append(
                QueueWorker(
                    first.sqs, queue_url, first.function_name, first.handler, first.region
                ).start()
            )

    stopped = []

    def stop_workers() -> None:
        if stopped:
            return
        stopped.append(True)
        for worker in extra:
            worker._stop.set()
        workers.stop()
        for worker in extra:
            worker.stop()

    stack.add(stop_workers)
    return {
        "api": api_url,
        "wechat": wechat.url,
        "sms": sms.url,
        "moto": moto.url,
        "dynamodb": ddb.url,
        "sqs": sqs_url,
        "queue": queue_url,
        "sms_limits": limits,
        "pollers": len(workers.queue_workers) + len(extra),
        "api_log": log.name,
        "stop_workers": stop_workers,
    }


# --------------------------------------------------------------------------- load


def plan(n: int) -> list[dict]:
    """Report bodies, spread over the demo stations and the leaf categories."""
    from chalicelib.reports.categories import leaf_categories
    from devstack.seed import demo_data

    stations = demo_data()["stations"]
    leaves = sorted(leaf_categories().items())
    bodies = []
    for i in range(n):
        station = stations[i % len(stations)]
        code, info = leaves[(i // len(stations)) % len(leaves)]
        text = TEXT.format(i=i, place=station["name"], what=info["name"])
        bodies.append({"station_id": station["id"], "category": code, "text": text})
    return bodies


def login(api: str, code: str) -> str:
    import requests

    res = requests.post(f"{api}/auth/login", json={"code": code}, timeout=30)
    if res.status_code != 200:
        raise RuntimeError(f"login answered {res.status_code}: {res.text[:300]}")
    return res.json()["token"]


def submit_all(api: str, tokens: list[str], bodies: list[dict]) -> tuple[dict, list, list]:
    """{report id: submit time}, POST latencies, failures; one thread per citizen."""
    import requests

    submitted: dict[str, float] = {}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        for body in bodies[index :: len(tokens)]:
            key = {"Idempotency-Key": uuid.uuid4().hex}
            at, started = time.time(), time.perf_counter()
            try:
                res = session.post(
                    f"{api}/reports", json=body, headers={**headers, **key}, timeout=60
                )
            except requests.RequestException as error:
                with lock:
                    failures.append(repr(error))
                continue
            elapsed = time.perf_counter() - started
            with lock:
                if res.status_code == 201:
                    submitted[res.json()["id"]] = at
                    latencies.append(elapsed)
                else:
                    failures.append(f"{res.status_code} {res.text[:300]}")

    with ThreadPoolExecutor(len(tokens)) as pool:
        list(pool.map(client, range(len(tokens))))
    return submitted, latencies, failures


# --------------------------------------------------------------------------- reading state


def scan(table: str, projection: str | None = None) -> list[dict]:
    """Every item of a table (plain JSON values)."""
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    ddb = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
    options = {"TableName": table}
    if projection:
        names = {f"#a{n}": name for n, name in enumerate(projection.split(","))}
        options.update(ProjectionExpression=",".join(names), ExpressionAttributeNames=names)
    out = TypeDeserializer()
    items = []
    for page in ddb.get_paginator("scan").paginate(**options):
        items += [{k: out.deserialize(v) for k, v in item.items()} for item in page["Items"]]
    return items


def count_items(table: str, where: str, values: dict) -> int:
    """How many items of a table match a filter (counted by DynamoDB, nothing shipped)."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
    pages = ddb.get_paginator("scan").paginate(
        TableName=table,
        Select="COUNT",
        FilterExpression=where,
        ExpressionAttributeNames={
            k: v for k, v in (("#s", "status"), ("#p", "purpose")) if k in where
        },
        ExpressionAttributeValues={k: {"S": v} for k, v in values.items()},
    )
    return sum(page["Count"] for page in pages)


def progress() -> dict[str, int]:
    """Offer notices by state, and reports still waiting for matching."""
    offers = {":o": OFFER_PURPOSE}
    return {
        "not yet matched": count_items(TABLE_PREFIX + "reports", "#s = :s", {":s": "submitted"}),
        "offer notices": count_items(TABLE_PREFIX + "outbox", "#p = :o", offers),
        "open (pending/sending)": count_items(
            TABLE_PREFIX + "outbox",
            "#p = :o AND #s IN (:a, :b)",
            {**offers, ":a": "pending", ":b": "sending"},
        ),
    }


def drain(deadline: float, began: float) -> tuple[bool, float]:
    """Wait until every report left `submitted` and every offer notice is final."""
    last_print = 0.0
    while True:
        state = progress()
        now = time.monotonic()
        done = state["open (pending/sending)"] == 0 and state["not yet matched"] == 0
        if done or now >= deadline or now - last_print >= 20:
            last_print = now
            print(f"  +{now - began:5.0f}s  " + ", ".join(f"{k} {v}" for k, v in state.items()))
        if done:
            return True, now
        if now >= deadline:
            return False, now
        time.sleep(4)


class Tally:
    """What the notice-queue handler did here, by outcome (observes; changes nothing)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count: Counter = Counter()
        self.seconds: Counter = Counter()
        self.requeued: list[int] = []

    def wrap(self, module, name: str, label=None) -> None:
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            result = original(*args, **kwargs)
            key = label(result) if label else name
            with self.lock:
                self.count[key] += 1
                self.seconds[key] += time.perf_counter() - started
                if name == "requeue_due":
                    self.requeued.append(result)
            return result

        setattr(module, name, wrapper)

    def install(self) -> None:
        """The handlers import these at call time, so wrapping the module attributes works."""
        from chalicelib.notify import delivery, sweep
        from chalicelib.workflow import jobs

        self.wrap(delivery, "deliver", lambda status: f"deliver -> {status}")
        self.wrap(jobs, "run_job", lambda _: "match job")
        self.wrap(sweep, "requeue_due")


# --------------------------------------------------------------------------- counting


def deputy_maps() -> tuple[dict[str, str], dict[str, str]]:
    """{openid: deputy id}, {normalized phone: deputy id} of the demo deputies."""
    from chalicelib.adapters.sms import normalize_phone
    from devstack.seed import demo_data
    from devstack.wechat_emulator import openid_for

    data = demo_data()
    appid = os.environ["WECHAT_APPID"]
    openids = {
        openid_for(appid, row["code"]): row["deputy_id"]
        for row in data["logins"]
        if row.get("role") == "deputy"
    }
    phones = {normalize_phone(d["phone"]): d["id"] for d in data["deputies"]}
    return openids, phones


def parse_outbox_id(item_id: str) -> tuple[str, str, str] | None:
    """(report, deputy, channel) of an offer notice's outbox id."""
    parts = item_id.split("#")
    if len(parts) != 5 or parts[3] != OFFER_PURPOSE or not parts[1].startswith("deputy:"):
        return None
    return parts[0], parts[1].removeprefix("deputy:"), parts[2]


def count(urls: dict, submitted: dict, top_k: int) -> dict:
    """Match the emulators' records to (report, deputy, channel) and count."""
    import requests

    from chalicelib.notify.templates import COMBINED, DEFAULT_SMS

    openids, phones = deputy_maps()
    wechat_calls = requests.get(
        urls["wechat"] + "/__emulator/calls", params={"api": "subscribe_send"}, timeout=60
    ).json()["calls"]
    sms_calls = requests.get(urls["sms"] + "/__emulator/calls", timeout=60).json()["calls"]
    sms_messages = requests.get(urls["sms"] + "/__emulator/messages", timeout=60).json()["messages"]
    everything = scan(TABLE_PREFIX + "outbox")
    outbox = {i["id"]: i for i in everything if i.get("purpose") == OFFER_PURPOSE}
    others = Counter(
        f"{i.get('purpose')} {i.get('channel')} {i.get('status')}"
        for i in everything
        if i.get("purpose") != OFFER_PURPOSE
    )
    reports = {r["id"]: r for r in scan(TABLE_PREFIX + "reports") if r["id"] in submitted}

    receipts: dict[tuple, list[tuple]] = defaultdict(list)  # key -> (`at`, injected) of each
    own: set[tuple] = set()  # keys that got their own message
    tried: dict[tuple, list[str]] = defaultdict(list)  # key -> every provider call, for examples
    strays = Counter()
    for call in wechat_calls:
        body = call.get("body") or {}
        page = str(body.get("page") or "")
        report = (parse_qs(urlsplit(page).query).get("id") or [None])[0]
        deputy = openids.get(body.get("touser"))
        ok = call.get("response_status") == 200 and call.get("errcode") in (0, None)
        if report in submitted and deputy is not None:
            tried[(report, deputy, "wechat")].append(
                f"{call['at'] - submitted[report]:.1f}s HTTP {call.get('response_status')} "
                f"errcode {call.get('errcode')} injected {call.get('injected')}"
            )
        if not ok:
            continue
        if report not in submitted or deputy is None:
            strays[f"other WeChat notices ({body.get('template_id')})"] += 1
            continue
        key = (report, deputy, "wechat")
        receipts[key].append((float(call["at"]), call.get("injected")))
        own.add(key)

    for call in sms_calls:
        context = str(((call.get("body") or {}).get("SessionContext")) or "")
        parsed = parse_outbox_id(context)
        if parsed and parsed[0] in submitted:
            statuses = ",".join(str(x.get("code")) for x in call.get("statuses") or [])
            tried[parsed].append(
                f"{call['at'] - submitted[parsed[0]]:.1f}s HTTP {call.get('http_status')} "
                f"{call.get('error') or statuses} template {call.get('template_id')} "
                f"params {call.get('params')} injected {call.get('injected')}"
            )
    combined_template = DEFAULT_SMS[COMBINED]["template_id"]
    members: dict[str, list[str]] = defaultdict(list)
    for item in outbox.values():
        if item.get("combined_into"):
            members[item["combined_into"]].append(item["id"])
    combined_messages = combined_members = unattributed = 0
    combined_keys: set[tuple] = set()
    for message in sms_messages:
        primary = message.get("session_context") or ""
        parsed = parse_outbox_id(primary)
        if parsed is None or parsed[0] not in submitted:
            strays[f"other SMS ({message.get('template_id')})"] += 1
            continue
        if phones.get(message.get("phone")) != parsed[1]:
            strays["sms to another number than its notice's deputy"] += 1
        at = float(message["at"])
        if message.get("template_id") == combined_template:
            ids = [primary, *members.get(primary, [])]
            combined_messages += 1
            combined_members += len(ids)
            said = int((message.get("params") or ["0"])[0] or 0)
            unattributed += max(0, said - len(ids))
            for item_id in ids:
                key = parse_outbox_id(item_id)
                receipts[key].append((at, None))
                combined_keys.add(key)
        else:
            receipts[parsed].append((at, None))
            own.add(parsed)

    items_by_key = {parse_outbox_id(i): i for i in outbox}
    review = [r for r in reports.values() if r.get("moderation") != "pass"]
    matched_short = [
        r
        for r in reports.values()
        if r.get("moderation") == "pass" and len(r.get("matched_deputy_ids") or []) < top_k
    ]

    figures = {"wechat": Counter(), "sms": Counter()}
    latency = {"wechat": [], "sms": []}
    examples: dict[str, list[str]] = defaultdict(list)

    def example(kind: str, key: tuple, item: dict) -> None:
        if len(examples[kind]) >= 3:
            return
        fields = ("status", "attempts", "combined_into", "provider_id", "last_error")
        state = {k: item.get(k) for k in fields if item.get(k) not in (None, "")}
        lines = [f"{' / '.join(str(k) for k in key)}: outbox {state or 'no item'}"]
        lines += [f"      {line}" for line in tried.get(key, [])[:8]]
        examples[kind].append("\n".join(lines))

    failed_errors = Counter()
    for report in submitted:
        row = reports.get(report, {})
        deputies = list(row.get("matched_deputy_ids") or [])
        if row.get("moderation") != "pass":
            continue  # held for staff review: no offer is due (counted apart)
        deputies += [None] * max(0, top_k - len(deputies))  # missing offers count as lost
        for deputy in deputies:
            for channel in ("wechat", "sms"):
                f = figures[channel]
                f["expected"] += 1
                key = (report, deputy, channel)
                item = outbox.get(items_by_key.get(key, ""), {}) if deputy else {}
                got = receipts.get(key, [])
                if len(got) > 1:
                    f["duplicated"] += 1
                    f["extra receipts"] += len(got) - 1
                    if any(kind == "slow answer" for _, kind in sorted(got)[:-1]):
                        f["duplicated after a slow answer the client had given up on"] += 1
                    else:
                        example(f"duplicated {channel}", key, item)
                if got:
                    latency[channel].append(min(at for at, _ in got) - submitted[report])
                if key in own:
                    f["delivered"] += 1
                elif key in combined_keys:
                    f["combined"] += 1
                elif item.get("status") == "failed":
                    f["failed"] += 1
                    failed_errors[(item.get("last_error") or "")[:90]] += 1
                elif item.get("status") == "skipped":
                    f["skipped"] += 1
                else:
                    f["lost"] += 1
                    f[f"lost, outbox {item.get('status') or 'item missing'}"] += 1
                    example(f"lost {channel} (outbox {item.get('status')})", key, item)
                if item.get("status") == "failed" and got:
                    f["failed in outbox yet received"] += 1
                if item.get("status") == "unconfirmed":
                    f["unconfirmed in outbox (read timeout)" + (", received" if got else "")] += 1

    def injected(calls: list[dict]) -> Counter:
        return Counter(c.get("injected") for c in calls if c.get("injected"))

    return {
        "figures": figures,
        "latency": latency,
        "wechat_calls": len(wechat_calls),
        "wechat_injected": injected(wechat_calls),
        "sms_calls": len(sms_calls),
        "sms_injected": injected(sms_calls),
        "sms_messages": len(sms_messages),
        "sms_limit_answers": Counter(
            c.get("error") or s.get("code")
            for c in sms_calls
            for s in (c.get("statuses") or [{}])
            if "LimitExceeded" in str(c.get("error") or s.get("code") or "")
        ),
        "combined_messages": combined_messages,
        "combined_members": combined_members,
        "unattributed": unattributed,
        "strays": strays,
        "examples": examples,
        "failed_errors": failed_errors,
        "review": len(review),
        "matched_short": len(matched_short),
        "report_states": Counter(r.get("status") for r in reports.values()),
        "outbox_states": Counter(i["status"] for i in outbox.values()),
        "other_outbox": others,
        "attempts": Counter(int(i.get("attempts") or 0) for i in outbox.values()),
    }


# --------------------------------------------------------------------------- report


def print_config(args, urls: dict) -> None:
    from chalicelib.notify import delivery

    limits = urls["sms_limits"]
    print("Configuration")
    rows = [
        ("reports", f"{args.n} over HTTP from {args.clients} citizen threads (chalice local)"),
        ("offers", f"MATCH_TOP_K={args.top_k} deputies per report x WeChat + SMS"),
        (
            "notice workers",
            f"{urls['pollers']} pollers of one SQS queue ({args.sqs}), batch 10, visibility 60s",
        ),
        ("schedules", f"every {args.schedule_seconds:g}s (sweep of due notices, due reports)"),
        (
            "faults",
            f"exactly {args.fault_rate:.0%} of subscribe_send / SendSms calls"
            + (f" (every {1 / args.fault_rate:g}th)" if args.fault_rate else "")
            + f", kinds in turn: WeChat {', '.join(WECHAT_FAULTS)} "
            f"({args.slow_seconds:g}s > timeout); SMS {', '.join(SMS_FAULTS)}",
        ),
        ("NOTIFY_MAX_ATTEMPTS", str(args.max_attempts)),
        (
            "backoff",
            f"base {delivery.BACKOFF_BASE_SECONDS:g}s x 2^attempt, full jitter, at least 1s "
            "(BACKOFF_BASE_SECONDS is a constant: not configurable via env)",
        ),
        ("WECHAT_TIMEOUT_SECONDS", f"{args.wechat_timeout:g}"),
        (
            "SMS ledger",
            f"SMS_GAP_SECONDS={args.sms_gap:g}, SMS_DAILY_CAP={args.sms_daily_cap} "
            f"(defaults {delivery.DEFAULT_SMS_GAP_SECONDS}s / {delivery.DEFAULT_SMS_DAILY_CAP})",
        ),
        (
            "SMS emulator limits",
            ", ".join(f"{k}={v}" for k, v in limits.items()) + " (0 = off; Tencent: 30 s / 10)",
        ),
    ]
    for name, value in rows:
        print(f"  {name:<24}{value}")
    print(
        "  Why: 14 demo deputies and 1,000 reports mean ~200 SMS per deputy number; Tencent's\n"
        "  real limits (same text within 30 s, 10 a day per number) would hold back all but a\n"
        "  few, so they are off here and our own ledger keeps only a short gap between SMS to\n"
        "  one number. SMS waiting for that gap go out combined (one SMS saying how many are\n"
        "  waiting): that is the feature that keeps a busy deputy's phone quiet, counted below."
    )


def print_results(c: dict, timing: dict, drained: bool, n_submitted: int) -> None:
    figures, latency = c["figures"], c["latency"]
    print(f"\nOffer notices ({n_submitted} reports accepted)")
    cols = ("expected", "delivered", "combined", "failed", "skipped", "lost", "duplicated")
    print(f"  {'channel':<8}" + "".join(f"{col:>11}" for col in cols) + f"{'p50':>9}{'p95':>9}")
    total = Counter()
    for channel in ("wechat", "sms"):
        f = figures[channel]
        total.update(f)
        lat = latency[channel]
        print(
            f"  {channel:<8}"
            + "".join(f"{f[col]:>11}" for col in cols)
            + f"{secs(pct(lat, 50)):>9}{secs(pct(lat, 95)):>9}"
        )
    every = latency["wechat"] + latency["sms"]
    print(
        f"  {'all':<8}"
        + "".join(f"{total[col]:>11}" for col in cols)
        + f"{secs(pct(every, 50)):>9}{secs(pct(every, 95)):>9}"
    )
    print(
        "  delivered = distinct (report, deputy, channel) the emulator answered with success on\n"
        "  its own message; combined = covered by a combined SMS instead; p50/p95 = submit of\n"
        "  the report -> emulator's `at` of its first successful receipt (combined ones count)."
    )
    for channel in ("wechat", "sms"):
        extra = {
            k: v
            for k, v in figures[channel].items()
            if k.startswith(("lost,", "duplicated after"))
            or k in ("extra receipts", "failed in outbox yet received")
        }
        if extra:
            print(f"  {channel}: " + ", ".join(f"{k} {v}" for k, v in sorted(extra.items())))
    if c["strays"]:
        notes = ", ".join(f"{k} {v}" for k, v in c["strays"].items())
        print(f"  records not matched / notes: {notes}")

    slow = sum(
        f["duplicated after a slow answer the client had given up on"] for f in figures.values()
    )
    if slow:
        print(
            f"  {slow} duplicates followed a slow answer: WeChat took the message, the client gave"
            " up after WECHAT_TIMEOUT_SECONDS and the outbox sent it again"
        )
    for kind, cases in c["examples"].items():
        print(f"  e.g. {kind}:")
        for case in cases:
            print(f"    {case}")

    print("\nProvider traffic")
    wi, si = c["wechat_injected"], c["sms_injected"]
    print(
        f"  WeChat subscribe_send calls {c['wechat_calls']}, injected faults {sum(wi.values())} "
        f"({sum(wi.values()) / max(1, c['wechat_calls']):.1%}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(wi.items()))
    )
    print(
        f"  SMS SendSms calls {c['sms_calls']}, injected faults {sum(si.values())} "
        f"({sum(si.values()) / max(1, c['sms_calls']):.1%}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(si.items()))
    )
    saved = c["combined_members"] - c["combined_messages"]
    print(
        f"  SMS messages delivered {c['sms_messages']}, of which combined {c['combined_messages']}"
        f" covering {c['combined_members']} notices ({saved} SMS saved)"
        + (f"; {c['unattributed']} combined members not traceable" if c["unattributed"] else "")
    )
    if c["sms_limit_answers"]:
        print(f"  SMS frequency-limit answers: {dict(c['sms_limit_answers'])}")
    print(
        "  outbox attempts per offer notice: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(c["attempts"].items()))
    )
    if c["failed_errors"]:
        print(
            "  failed notices' last errors: "
            + "; ".join(f"{v}x {k}" for k, v in c["failed_errors"].most_common(4))
        )

    tally = c["tally"]
    print(
        "  notice-queue messages handled here: "
        + ", ".join(
            f"{k} {v} (mean {tally.seconds[k] / v * 1000:.0f} ms)"
            for k, v in sorted(tally.count.items())
            if k != "requeue_due"
        )
    )
    if tally.requeued:
        print(
            f"  due-notice sweep runs re-queued: {tally.requeued} (pending items still waiting in"
            " the queue are 'due' too, so each run queues them again)"
        )

    print("\nState at the end")
    print(f"  reports: {dict(c['report_states'])}; held for review {c['review']}")
    if c["matched_short"]:
        print(f"  reports offered to fewer than MATCH_TOP_K deputies: {c['matched_short']}")
    print(f"  offer outbox items: {dict(c['outbox_states'])}")
    if c["other_outbox"]:
        print(
            f"  other outbox items (not counted above): {dict(sorted(c['other_outbox'].items()))}"
        )
    print(
        f"\nTiming: submit {timing['submit']:.1f}s (POST /reports p50 "
        f"{timing['post_p50'] * 1000:.0f} ms, p95 {timing['post_p95'] * 1000:.0f} ms); "
        + (
            f"all offer notices final {timing['drain']:.1f}s after the last submission"
            if drained
            else f"NOT all final after waiting {timing['drain']:.1f}s (those count as lost)"
        )
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="reports (default 1000)")
    parser.add_argument("--clients", type=int, default=4, help="citizen threads (default 4)")
    parser.add_argument("--workers", type=int, default=8, help="queue pollers (default 8)")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="(default 0.2)")
    parser.add_argument("--top-k", type=int, default=3, help="MATCH_TOP_K (default 3)")
    parser.add_argument("--max-attempts", type=int, default=6, help="NOTIFY_MAX_ATTEMPTS")
    parser.add_argument("--sms-gap", type=float, default=2.0, help="SMS_GAP_SECONDS (2)")
    parser.add_argument("--sms-daily-cap", type=int, default=100000, help="SMS_DAILY_CAP")
    parser.add_argument("--wechat-timeout", type=float, default=2.0, help="seconds (2)")
    parser.add_argument(
        "--slow-seconds", type=float, default=None, help="slow answer (timeout + 0.5 s)"
    )
    parser.add_argument("--schedule-seconds", type=float, default=60.0, help="(AWS: 60)")
    parser.add_argument(
        "--budget",
        type=float,
        default=440.0,
        help="seconds for the whole run: waiting for final notices stops 30 s before (440)",
    )
    parser.add_argument(
        "--sqs",
        choices=("lean", "moto"),
        default="lean",
        help="SQS stand-in: this file's lean queue (default) or moto's (slow past ~1k messages)",
    )
    parser.add_argument("--serve-sqs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-emulator", choices=("wechat", "sms"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--appid", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.slow_seconds is None:
        args.slow_seconds = args.wechat_timeout + 0.5

    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if args.serve_emulator:
        serve_emulator(args)
        return 0
    if args.serve_sqs:
        serve_sqs(args.port)
        return 0

    sys.stdout.reconfigure(line_buffering=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    began = time.monotonic()
    stack = Stack()
    devnull = open(os.devnull, "w")  # noqa: SIM115
    stack.add(devnull.close)  # closed last: the workers log until they stop
    tally = Tally()
    tally.install()
    try:
        urls = start_stack(args, stack)
        for handler in logging.getLogger("ssp").handlers:  # the workers' JSON logs
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        print(
            f"stack up in {time.monotonic() - began:.1f}s: API {urls['api']}, DynamoDB Local "
            f"{urls['dynamodb']}, moto (S3) {urls['moto']}, SQS ({args.sqs}) {urls['sqs']}, "
            f"WeChat emulator "
            f"{urls['wechat']}, SMS emulator {urls['sms']}; chalice local's output in "
            f"{urls['api_log']}\n"
        )
        print_config(args, urls)
        return run(args, urls, began, tally)
    finally:
        stack.stop()
        print(f"total wall time {time.monotonic() - began:.1f}s; stack stopped")


def run(args, urls: dict, began: float, tally: Tally) -> int:
    tokens = [login(urls["api"], f"bench-citizen-{n}") for n in range(args.clients)]
    bodies = plan(args.n)
    print(f"\nSubmitting {len(bodies)} reports ...", flush=True)
    started = time.monotonic()
    submitted, posts, failures = submit_all(urls["api"], tokens, bodies)
    submit_done = time.monotonic()
    print(
        f"  {len(submitted)} accepted in {submit_done - started:.1f}s, {len(failures)} refused;"
        " waiting for every offer notice to be final",
        flush=True,
    )
    ok, finished = drain(began + args.budget - 30, began)
    urls["stop_workers"]()  # nothing moves while the records are read
    counted = count(urls, submitted, args.top_k)
    counted["tally"] = tally
    timing = {
        "submit": submit_done - started,
        "post_p50": pct(posts, 50),
        "post_p95": pct(posts, 95),
        "drain": finished - submit_done,
    }
    print_results(counted, timing, ok, len(submitted))
    if failures:
        print(f"\n{len(failures)} submissions failed, e.g. {failures[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
