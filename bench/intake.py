"""Benchmark of report intake (`POST /reports`) against AWS's DynamoDB Local.

    python bench/intake.py [--n 500] [--count-n 50]

Starts DynamoDB Local (Java), moto (S3 only) and the WeChat emulator, loads the demo data,
then measures, in one run:

1. latency of `POST /reports` through `chalice.test.Client` (n calls after 20 warm-ups),
2. latency of a bare boto3 `PutItem` of a report-sized item on the same table and endpoint,
   one after each submission (the same-run baseline),
3. both again with the match job handed to a queue (SQS on moto) after each submission,
   as the deployed API does; the figures of 1 and 2 are the issue's (DynamoDB only),
4. in a separate pass through counting reverse proxies (DynamoDB, S3 and SQS, WeChat), the
   requests each submission makes and the write capacity it consumes.

Prints figures only; exits non-zero only if something breaks (e.g. a submission is refused).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 20
CITIZENS = 5
PHOTO_EVERY = 5  # one submission in five carries one photo uploaded and confirmed beforehand
TEXT = "第{i}号：小区门口道路坑洼积水，夜间没有路灯，老人和孩子出行很不方便，希望尽快修复。"
JPEG = b"\xff\xd8\xff\xe0" + bytes(2048) + b"\xff\xd9"


# --------------------------------------------------------------------------- statistics


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


# --------------------------------------------------------------------------- item sizes


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict) -> int:
    """Size of a DynamoDB attribute value by AWS's item-size rules."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(s) for s in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(kind)


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(item: dict, transactional: bool) -> int:
    """WCU of writing `item`: 1 per started KB, doubled inside a transaction."""
    return max(1, math.ceil(item_size(item) / 1024)) * (2 if transactional else 1)


# --------------------------------------------------------------------------- counting proxy


class Tally:
    """Requests seen by the proxies: counts, upstream time and capacity, by operation."""

    def __init__(self, gsis: dict[str, list[tuple[str, ...]]]) -> None:
        self.lock = threading.Lock()
        self.gsis = gsis  # table name -> key attributes of each global secondary index
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.count: dict[str, int] = defaultdict(int)
            self.seconds: dict[str, float] = defaultdict(float)
            self.reported_cu: dict[str, float] = defaultdict(float)
            self.reported_n: dict[str, int] = defaultdict(int)
            self.rule_wcu: dict[str, int] = defaultdict(int)

    def put_units(self, put: dict, transactional: bool) -> int:
        """WCU of a Put: the item, plus each GSI whose keys it carries (sized as the item)."""
        item = put.get("Item", {})
        units = write_units(item, transactional)
        for keys in self.gsis.get(put.get("TableName"), []):
            if all(key in item for key in keys):
                units += write_units(item, transactional)
        return units

    def add(self, op: str, seconds: float, request: bytes, response: bytes) -> None:
        reported = rule = None
        if op.startswith("ddb."):
            try:
                req = json.loads(request or b"{}")
                res = json.loads(response or b"{}")
            except ValueError:
                req = res = {}
            consumed = res.get("ConsumedCapacity") if isinstance(res, dict) else None
            if isinstance(consumed, dict):
                consumed = [consumed]
            if consumed:
                reported = sum(c.get("CapacityUnits", 0) for c in consumed)
            if op == "ddb.TransactWriteItems":
                rule = sum(
                    self.put_units(entry["Put"], transactional=True)
                    for entry in req.get("TransactItems", [])
                    if "Put" in entry
                )
            elif op.startswith("ddb.PutItem"):
                rule = self.put_units(req, transactional=False)
        with self.lock:
            self.count[op] += 1
            self.seconds[op] += seconds
            if reported is not None:
                self.reported_cu[op] += reported
                self.reported_n[op] += 1
            if rule is not None:
                self.rule_wcu[op] += rule


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # silence per-request logging
        pass

    def _upstream(self, fresh: bool = False) -> http.client.HTTPConnection:
        local = self.server.local
        if fresh or getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        return local.conn

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        started = time.perf_counter()
        for attempt in range(2):
            conn = self._upstream(fresh=attempt > 0)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                if attempt:
                    raise
        elapsed = time.perf_counter() - started
        target = self.headers.get("X-Amz-Target")
        if target and target.startswith("AmazonSQS."):
            op = "sqs." + target.rpartition(".")[2]
        elif target:
            op = "ddb." + target.rpartition(".")[2]
            table = json.loads(body or b"{}").get("TableName")
            if table:
                op += f" {table.removeprefix(self.server.table_prefix)}"
        else:
            op = f"{self.server.label}.{self.command} {urlsplit(self.path).path}"
            if self.server.label == "s3":
                op = f"s3.{self.command}"
        self.server.tally.add(op, elapsed, body, data)
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward


class CountingProxy(ThreadingHTTPServer):
    """Reverse proxy to `upstream_url` recording every request into `tally`."""

    daemon_threads = True

    def __init__(self, upstream_url: str, label: str, tally: Tally) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self.label = label
        self.tally = tally
        self.local = threading.local()
        self.table_prefix = os.environ.get("TABLE_PREFIX", "")
        self.thread = threading.Thread(target=self.serve_forever, daemon=True, name=label)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


# --------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, client, tokens: list[str]) -> None:
        self.client = client
        self.tokens = tokens
        self.failures: list[str] = []

    def upload_photo(self, token: str) -> str:
        import requests

        res = self.client.http.post(
            "/uploads",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps({"content_type": "image/jpeg", "size": len(JPEG)}).encode(),
        )
        if res.status_code != 200:
            raise RuntimeError(f"POST /uploads answered {res.status_code}: {res.body[:300]!r}")
        post = res.json_body
        up = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": ("photo.jpg", io.BytesIO(JPEG), "image/jpeg")},
            timeout=10,
        )
        if up.status_code not in (200, 201, 204):
            raise RuntimeError(f"S3 upload answered {up.status_code}: {up.text[:300]}")
        confirmed = self.client.http.post(
            "/uploads/confirm",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps({"key": post["key"]}).encode(),
        )
        if confirmed.status_code != 200:
            raise RuntimeError(
                f"POST /uploads/confirm answered {confirmed.status_code}: {confirmed.body[:300]!r}"
            )
        return post["key"]

    def plan(self, count: int, start: int) -> list[tuple[str, bytes, dict]]:
        """(token, body, headers) of `count` submissions; photos are uploaded now, untimed."""
        calls = []
        for i in range(start, start + count):
            token = self.tokens[i % len(self.tokens)]
            body = {"station_id": "S01", "category": "municipal.road", "text": TEXT.format(i=i)}
            if i % PHOTO_EVERY == 0:
                body["photos"] = [self.upload_photo(token)]
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            calls.append((token, json.dumps(body, ensure_ascii=False).encode(), headers))
        return calls

    def submit(self, calls, between=None) -> tuple[list[float], list[float], list[str]]:
        """Timings (without photo, with photo) and ids of the stored reports.

        `between`, if given, is called after each submission (the interleaved baseline).
        """
        plain, photo, ids = [], [], []
        for _token, body, headers in calls:
            started = time.perf_counter()
            res = self.client.http.post("/reports", headers=headers, body=body)
            elapsed = time.perf_counter() - started
            if between:
                between()
            if res.status_code != 201:
                self.failures.append(f"{res.status_code} {res.body[:300]!r}")
                continue
            (photo if b'"photos"' in body else plain).append(elapsed)
            ids.append(res.json_body["id"])
        return plain, photo, ids


class BarePut:
    """Bare boto3 PutItems of a report-sized item (fresh id each), timed."""

    def __init__(self, endpoint: str, table: str, template: dict) -> None:
        import boto3

        self.ddb = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"]
        )
        self.table = table
        self.template = template
        self.timings: list[float] = []
        self.units: float | None = None

    def __call__(self) -> None:
        item = dict(self.template, id={"S": f"RBENCH-{uuid.uuid4().hex[:12]}"})
        started = time.perf_counter()
        res = self.ddb.put_item(TableName=self.table, Item=item, ReturnConsumedCapacity="TOTAL")
        self.timings.append(time.perf_counter() - started)
        self.units = res.get("ConsumedCapacity", {}).get("CapacityUnits")


class BarePutAndSend(BarePut):
    """A bare PutItem followed by a bare SendMessage of a match job, timed together."""

    def __init__(self, endpoint: str, table: str, template: dict, sqs_endpoint: str, queue: str):
        import boto3

        super().__init__(endpoint, table, template)
        self.sqs = boto3.client(
            "sqs", endpoint_url=sqs_endpoint, region_name=os.environ["AWS_REGION"]
        )
        self.queue = queue

    def __call__(self) -> None:
        item = dict(self.template, id={"S": f"RBENCH-{uuid.uuid4().hex[:12]}"})
        body = json.dumps({"job": "match", "report_id": item["id"]["S"]})
        started = time.perf_counter()
        self.ddb.put_item(TableName=self.table, Item=item)
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=body)
        self.timings.append(time.perf_counter() - started)


def table_indexes(endpoint: str) -> dict[str, list[tuple[str, ...]]]:
    """Key attributes of every GSI of every table (to price index writes)."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    indexes = {}
    for name in ddb.list_tables()["TableNames"]:
        table = ddb.describe_table(TableName=name)["Table"]
        indexes[name] = [
            tuple(k["AttributeName"] for k in gsi["KeySchema"])
            for gsi in table.get("GlobalSecondaryIndexes", [])
        ]
    return indexes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="timed submissions (default 500)")
    parser.add_argument(
        "--count-n", type=int, default=50, help="submissions in the counting pass (default 50)"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from devstack.services import free_port, start_child_server, start_dynamodb_local
    from devstack.stack import stack_environment

    began = time.perf_counter()
    stoppers: list = []
    try:
        ddb_local = start_dynamodb_local()
        stoppers.append(ddb_local.stop)
        # moto and the emulator stand for remote services: separate processes, so their
        # work does not share the measured process's interpreter lock.
        port = free_port()
        bin_dir = Path(sys.executable).parent
        moto = start_child_server(
            [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], port, "/moto-api/"
        )
        stoppers.append(moto.stop)
        env = stack_environment(moto.url, "")
        port = free_port()
        wechat = start_child_server(
            [
                sys.executable,
                "-m",
                "devstack.wechat_emulator",
                "--port",
                str(port),
                "--appid",
                env["WECHAT_APPID"],
                "--secret",
                env["WECHAT_SECRET"],
            ],
            port,
            "/__emulator/health",
        )
        wechat.url += "/"
        stoppers.append(wechat.stop)
        env.update(
            DYNAMODB_ENDPOINT=ddb_local.url,
            S3_ENDPOINT=moto.url,
            WECHAT_API_BASE=wechat.url,
            TABLE_PREFIX="ssp-bench-",
            UPLOAD_BUCKET="ssp-bench-uploads",
        )
        os.environ.update(env)
        print(
            f"servers up in {time.perf_counter() - began:.1f}s: DynamoDB Local {ddb_local.url}, "
            f"moto (S3) {moto.url}, WeChat emulator {wechat.url}"
        )
        return run(args, env, ddb_local.url, moto.url, wechat.url, stoppers)
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as error:  # keep stopping the others
                print(f"stop failed: {error!r}", file=sys.stderr)
        print(f"total wall time {time.perf_counter() - began:.1f}s; servers stopped")


def run(args, env: dict, ddb_url: str, s3_url: str, wechat_url: str, stoppers: list) -> int:
    from chalice.test import Client

    from app import app
    from chalicelib.bootstrap import services
    from chalicelib.store.models import ReportModel
    from chalicelib.store.tables import create_tables
    from devstack.seed import load_demo

    # Keep the app's JSON logging (its cost is part of a request) but send it nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115
    stoppers.append(devnull.close)
    for handler in logging.getLogger("ssp").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)

    svc = services()
    create_tables(svc.settings)
    svc.uploads.create_bucket()
    load_demo(svc)
    client = Client(app, stage_name="local", project_dir=str(ROOT))
    tokens = []
    for n in range(CITIZENS):
        res = client.http.post(
            "/auth/login",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"code": f"bench-citizen-{n}"}).encode(),
        )
        if res.status_code != 200:
            raise RuntimeError(f"login answered {res.status_code}: {res.body[:300]!r}")
        tokens.append(res.json_body["token"])
    bench = Bench(client, tokens)

    # ---- pass 1: latency, straight to the servers; a bare PutItem after each submission
    _, _, warm_ids = bench.submit(bench.plan(WARMUP, start=0))
    table = ReportModel.Meta.table_name
    import boto3

    template = boto3.client("dynamodb", endpoint_url=ddb_url).get_item(
        TableName=table, Key={"id": {"S": warm_ids[-1]}}
    )["Item"]
    put = BarePut(ddb_url, table, template)
    for _ in range(WARMUP):
        put()
    put.timings.clear()
    plain, photo, _ = bench.submit(bench.plan(args.n, start=WARMUP), between=put)
    timings = plain + photo
    base = put.timings

    # ---- pass 1b: the same with the match job handed to SQS (moto) after each submission
    queue_url = boto3.client(
        "sqs", endpoint_url=s3_url, region_name=os.environ["AWS_REGION"]
    ).create_queue(QueueName="ssp-bench-notices")["QueueUrl"]
    os.environ.update(NOTIFY_QUEUE_URL=queue_url, SQS_ENDPOINT=s3_url)
    start = WARMUP + args.n
    bench.submit(bench.plan(WARMUP, start=start))  # new settings = new container: warm it
    put_q = BarePutAndSend(ddb_url, table, template, s3_url, queue_url)
    for _ in range(WARMUP):
        put_q()
    put_q.timings.clear()
    q_plain, q_photo, _ = bench.submit(bench.plan(args.n, start=start + WARMUP), between=put_q)
    queued = q_plain + q_photo

    # ---- pass 2: requests and capacity, through counting proxies
    tally = Tally(table_indexes(ddb_url))
    proxies = [
        CountingProxy(url, label, tally)
        for url, label in ((ddb_url, "ddb"), (s3_url, "s3"), (wechat_url, "wechat"))
    ]
    for proxy in proxies:
        stoppers.append(proxy.stop)
    os.environ.update(
        DYNAMODB_ENDPOINT=proxies[0].url,
        S3_ENDPOINT=proxies[1].url,
        SQS_ENDPOINT=proxies[1].url,
        WECHAT_API_BASE=proxies[2].url + "/",
    )
    start = 2 * (WARMUP + args.n)
    warm = bench.plan(PHOTO_EVERY, start=start)  # new settings = new container: warm it
    counted = bench.plan(args.count_n, start=start + PHOTO_EVERY)
    tally.reset()
    bench.submit(warm[:1])
    cold = dict(tally.count)
    bench.submit(warm[1:])
    tally.reset()
    c_plain, c_photo, _ = bench.submit(counted)
    done = len(c_plain) + len(c_photo)

    # ---- report
    n_photo = len(photo)
    print(
        f"\nPOST /reports via chalice.test.Client: {len(timings)} timed after {WARMUP} warm-ups "
        f"({n_photo} with one photo uploaded beforehand (1 in {PHOTO_EVERY}), "
        f"{len(plain)} without); Idempotency-Key unique on each"
    )
    print(
        f"  all        p50 {ms(pct(timings, 50))}   p95 {ms(pct(timings, 95))}   "
        f"max {ms(max(timings))}"
    )
    print(f"  no photo   p50 {ms(pct(plain, 50))}   p95 {ms(pct(plain, 95))}")
    if photo:
        print(f"  1 photo    p50 {ms(pct(photo, 50))}   p95 {ms(pct(photo, 95))}")
    size = item_size(template)
    print(
        f"bare boto3 PutItem, same table/endpoint, {size}-byte item (a stored report), "
        f"{len(base)} timed after {WARMUP} warm-ups, one after each submission"
    )
    print(f"  PutItem    p50 {ms(pct(base, 50))}   p95 {ms(pct(base, 95))}   max {ms(max(base))}")
    ratio = pct(timings, 95) / pct(base, 95)
    print(f"p95 ratio submission / PutItem: {ratio:.2f}  (target <= 3)")
    print(
        f"\nwith the match job handed to SQS (moto) after each submission, as deployed: "
        f"{len(queued)} timed, a bare PutItem + SendMessage after each"
    )
    print(
        f"  all        p50 {ms(pct(queued, 50))}   p95 {ms(pct(queued, 95))}   "
        f"max {ms(max(queued))}"
    )
    print(f"  Put+Send   p50 {ms(pct(put_q.timings, 50))}   p95 {ms(pct(put_q.timings, 95))}")
    q_ratio = pct(queued, 95) / pct(put_q.timings, 95)
    print(f"p95 ratio submission with queue hand-off / (PutItem + SendMessage): {q_ratio:.2f}")

    print(
        f"\nCounting pass through reverse proxies: {done} submissions "
        f"({len(c_photo)} with a photo), warm container, match job queued"
    )
    print(f"  {'request':<28}{'per submission':>15}{'mean upstream':>15}")
    ddb_requests = 0
    for op in sorted(tally.count):
        count = tally.count[op]
        if op.startswith("ddb."):
            ddb_requests += count
        print(f"  {op:<28}{count / done:>15.2f}{tally.seconds[op] / count * 1000:>12.2f} ms")
    print(f"  DynamoDB requests / submission: {ddb_requests / done:.2f}  (target <= 4)")
    rule = sum(tally.rule_wcu.values()) / done
    print(
        f"  WCU / submission by DynamoDB pricing rules (transactional write = 2 WCU per KB per "
        f"item, index writes included): {rule:.2f}"
    )
    reported = {op: tally.reported_cu[op] / tally.reported_n[op] for op in tally.reported_n}
    if reported:
        text = ", ".join(f"{op} {units:.2f} CU/request" for op, units in sorted(reported.items()))
        print(f"  ConsumedCapacity reported by DynamoDB Local (PynamoDB asks TOTAL): {text}")
    else:
        print("  DynamoDB Local reported no ConsumedCapacity")
    bare = tally.put_units({"TableName": table, "Item": template}, transactional=False)
    print(
        f"  the bare PutItem above: {bare} WCU by the same rules (item + reporter GSI write); "
        f"DynamoDB Local reported {put.units}"
    )
    print(
        f"  first submission after a settings change (new Services): {dict(sorted(cold.items()))}"
    )

    if bench.failures:
        print(f"\n{len(bench.failures)} submissions failed, e.g. {bench.failures[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
