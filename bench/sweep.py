"""Benchmark of the overdue sweep and the district figures at two data sizes, on DynamoDB Local.

    python bench/sweep.py [--small 1000] [--large 50000] [--overdue 100] [--threads 4]
                          [--rounds 3] [--warmup 20] [--figures-repeat 10]

Starts AWS's DynamoDB Local (Java), moto (SQS: the notice queue) and the WeChat emulator (the
demo logins), then builds two table sets on the one DynamoDB Local (two TABLE_PREFIX values):
`--small` and `--large` reports of district shinan / station S01, `--overdue` of them in each
overdue (status `accepted`, an `answer` step whose deadline has passed, due for the station
rung), the rest open with future deadlines or closed (no due attributes). Reports are
ReportModel items built directly and written with PynamoDB `batch_write()` from `--threads`
threads; their due fields come from `step_attributes` / `due_attributes`. Each set also gets
30 days of StatsModel counters for its district, station, city and deputies: the day numbers
grow with the size, the number of counter items per day does not.

For each size it then measures, with the size's tables bound:
1. one `sweep_due_reports(services, now)` (the real function; notices go to the outbox and the
   moto queue), then a second one right after, which should read and send nothing;
2. `scope_figures("district:shinan", from, to)` over the 30 days (`--figures-repeat` calls).

This is done in `--rounds` rounds, the sets alternating (small, large | large, small | …):
before each round after the first, the overdue reports are put back as built (untimed), so
each set keeps its sizes and its `--overdue` overdue reports. Each round starts with a
warm-up sweep of `--warmup` reports of another district at the last rung, with a `now` five
days earlier so that only they are due: switching TABLE_PREFIX rebinds the models (new
botocore clients), and the JVM of DynamoDB Local warms up; the warm-up leaves nothing due.

Before the timed parts of a round the heap is collected and frozen (`gc.freeze()`, undone
after; `--no-gc-freeze` to keep it): rebinding the models leaves hundreds of thousands of
objects of discarded botocore clients, and a full collection of them (0.2–1.5 s here) would
otherwise land inside a timed sweep at random. A Lambda container binds its tables once.

Items read are counted twice: the sweep's own `read`, and what DynamoDB answered (ScannedCount
of each Query, the item of each GetItem, ConsumedCapacity) through a wrapper around PynamoDB's
`Connection._make_api_call`, in this process (no proxy hop inside the timings). SQS messages
are counted on the services' SQS client (botocore events) and by the queue's depth.

Prints figures only; exits non-zero only if something breaks (e.g. a sweep step fails).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRICT, STATION, CITY = "shinan", "S01", "qingdao"
DEPUTIES = ("D01", "D02")  # the demo deputies of S01
WARM_DISTRICT, WARM_STATION, WARM_DEPUTY = "huangdao", "S05", "D09"
CATEGORIES = (
    "municipal.road",
    "municipal.streetlight",
    "municipal.drainage",
    "greening.tree",
    "municipal.facility",
)
CATEGORY_SHARE = (0.3, 0.25, 0.2, 0.15, 0.1)
CITIZENS = 500
PERIOD_DAYS = 30
OPEN_SHARE = 0.4  # of the reports that are not overdue; the rest are closed
TEXT = "第{i}号：小区门口道路坑洼积水，夜间没有路灯，老人和孩子出行很不方便，希望尽快修复。"
# A day of the district's counters, as shares of the day's submissions (metric, share, total
# per event). Every metric appears every day at either size (at least 1), so both sizes have
# the same counter items; only their numbers differ.
DAY_MIX = (
    ("submitted", 1.0, 0.0),
    ("accepted", 0.95, 0.0),
    ("transferred", 0.2, 0.0),
    ("resolved", 0.8, 0.0),
    ("evaluations", 0.7, 0.0),
    ("satisfied", 0.65, 0.0),
    ("unsatisfied", 0.05, 0.0),
    ("second_handling", 0.03, 0.0),
    ("closed", 0.75, 4.2),
    ("closed_satisfied", 0.65, 0.0),
    ("closed_not_evaluated", 0.08, 0.0),
    ("closed_unsatisfied", 0.02, 0.0),
    ("closed_first_time", 0.6, 0.0),
    ("overdue", 0.02, 0.0),
    ("escalated", 0.005, 0.0),
)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


# --------------------------------------------------------------------------- counting


class Tally:
    """DynamoDB requests answered in this process: items read, capacity, time, by request;
    the entries of each TransactWriteItems by table; SQS messages accepted."""

    def __init__(self, prefixes: list[str]) -> None:
        self.prefixes = prefixes
        self.lock = threading.Lock()
        self.active = False
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests: dict[str, int] = defaultdict(int)
            self.items: dict[str, int] = defaultdict(int)
            self.units: dict[str, float] = defaultdict(float)
            self.seconds: dict[str, float] = defaultdict(float)
            self.errors: dict[str, int] = defaultdict(int)
            self.writes: dict[str, int] = defaultdict(int)
            self.messages = 0

    def logical(self, table: str | None) -> str:
        for prefix in self.prefixes:
            if table and table.startswith(prefix):
                return table[len(prefix) :]
        return table or "?"

    def label(self, op: str, kwargs: dict) -> str:
        if op.startswith(("Transact", "Batch")):
            return op
        label = f"{op} {self.logical(kwargs.get('TableName'))}"
        return label + (f".{kwargs['IndexName']}" if kwargs.get("IndexName") else "")

    def add(self, op: str, kwargs: dict, data: dict | None, seconds: float) -> None:
        if not self.active:
            return
        label = self.label(op, kwargs)
        data = data or {}
        if op in ("Query", "Scan"):
            items = int(data.get("ScannedCount", data.get("Count", 0)))
        elif op == "GetItem":
            items = 1 if data.get("Item") else 0
        elif op == "BatchGetItem":
            items = sum(len(rows) for rows in data.get("Responses", {}).values())
        elif op == "TransactGetItems":
            items = sum(1 for row in data.get("Responses", []) if row.get("Item"))
        else:
            items = 0
        consumed = data.get("ConsumedCapacity") or []
        if isinstance(consumed, dict):
            consumed = [consumed]
        units = sum(float(c.get("CapacityUnits", 0)) for c in consumed)
        writes = []
        if op == "TransactWriteItems":
            for entry in kwargs.get("TransactItems", []):
                for kind, body in entry.items():
                    writes.append(f"{kind} {self.logical(body.get('TableName'))}")
        with self.lock:
            self.requests[label] += 1
            self.items[label] += items
            self.units[label] += units
            self.seconds[label] += seconds
            for write in writes:
                self.writes[write] += 1

    def failed(self, op: str, kwargs: dict) -> None:
        if self.active:
            with self.lock:
                self.errors[self.label(op, kwargs)] += 1

    def install(self) -> None:
        """Wrap PynamoDB's one call into botocore (models and transactions alike)."""
        from pynamodb.connection.base import Connection

        original = Connection._make_api_call
        tally = self

        def counted(conn, operation_name: str, operation_kwargs: dict) -> dict:
            started = time.perf_counter()
            try:
                data = original(conn, operation_name, operation_kwargs)
            except Exception:
                tally.failed(operation_name, operation_kwargs)
                raise
            tally.add(operation_name, operation_kwargs, data, time.perf_counter() - started)
            return data

        Connection._make_api_call = counted

    def watch_sqs(self, client) -> None:
        """Count and time the SQS calls of `client` (the services' queue client)."""
        local = threading.local()

        def before(**_) -> None:
            local.started = time.perf_counter()

        def after(parsed=None, model=None, **_) -> None:
            if not self.active or model is None:
                return
            seconds = time.perf_counter() - getattr(local, "started", time.perf_counter())
            label = f"SQS {model.name}"
            sent = 0
            if model.name == "SendMessageBatch":
                sent = len((parsed or {}).get("Successful", []))
            elif model.name == "SendMessage":
                sent = 1
            with self.lock:
                self.requests[label] += 1
                self.seconds[label] += seconds
                self.messages += sent

        client.meta.events.register("before-call.sqs.*", before, unique_id="bench-sqs-before")
        client.meta.events.register("after-call.sqs.*", after, unique_id="bench-sqs-after")

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "items": dict(self.items),
                "units": dict(self.units),
                "seconds": dict(self.seconds),
                "errors": dict(self.errors),
                "writes": dict(self.writes),
                "messages": self.messages,
            }


class Problems(logging.Handler):
    """Keeps the sweep's 'skipped' / 'failed' / 'refused' log records (the JSON logs go to
    /dev/null, as in bench/intake.py, so that their cost stays in the timings)."""

    WATCHED = ("due step skipped", "due step failed", "transition refused", "enqueue failed")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(self.WATCHED):
            fields = getattr(record, "fields", None) or {}
            self.records.append(f"{message} {fields}")


# --------------------------------------------------------------------------- data


class Plan:
    """Which report is which, and the times their fields are derived from."""

    def __init__(self, size: int, overdue: int, now: datetime, step_hours: float) -> None:
        self.size = size
        self.overdue = min(overdue, size)
        self.now = now
        self.step = timedelta(hours=step_hours)
        self.every = max(1, size // max(1, self.overdue))

    def kind(self, i: int) -> str:
        if i % self.every == 0 and i // self.every < self.overdue:
            return "overdue"
        return "open" if (i * 2654435761) % 1000 < OPEN_SHARE * 1000 else "closed"


def fraction(i: int, salt: int = 0) -> float:
    """A deterministic spread in [0, 1) from an index."""
    return ((i * 2654435761 + salt * 40503) % 10007) / 10007


def report_item(plan: Plan, i: int):
    from chalicelib.store.models import ReportModel
    from chalicelib.workflow.engine import STEP_FIELDS_CLEARED, due_attributes, step_attributes
    from chalicelib.workflow.operations import ANSWER_HOURS

    now, kind = plan.now, plan.kind(i)
    rid = f"R{i:07d}"
    fields = {
        "reporter_id": f"U-bench-citizen-{i % CITIZENS:03d}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "text": TEXT.format(i=i),
        "station_id": STATION,
        "district_id": DISTRICT,
        "city_id": CITY,
        "accepted_by": DEPUTIES[i % len(DEPUTIES)],
        "version": 1,
        "event_count": 1,
    }
    if kind == "overdue":
        # Deadline passed 5 %–80 % of an escalation step ago: the next rung (station) is due
        # now, and after it the one after (deadline + 1 step) is still in the future.
        deadline = now - plan.step * (0.05 + 0.75 * fraction(i, 1))
        started = deadline - timedelta(hours=ANSWER_HOURS)
        # every other one was reminded at 75 % (rung 1, due again at the deadline)
        reminded = (i // plan.every) % 2 == 1
        first = deadline if reminded else started + (deadline - started) * 0.75
        due = dict(STEP_FIELDS_CLEARED)
        due.update(due_attributes(rid, "answer", first))
        due.update(
            step_started_at=started.isoformat(),
            step_due_at=deadline.isoformat(),
            ladder_rung=1 if reminded else 0,
        )
        created = started - timedelta(hours=2)
        fields.update(status="accepted", accepted_at=started.isoformat(), **due)
    elif kind == "open":
        created = now - timedelta(days=6 * fraction(i, 2))
        variant = i % 4
        if variant == 0:
            status, step = "accepted", "answer"
            deadline = now + timedelta(hours=2 + 21 * fraction(i))
        elif variant == 1:
            status, step = "in_progress", "work_order"
            deadline = now + timedelta(days=1 + 6 * fraction(i))
        elif variant == 2:
            status, step = "resolved", "evaluation"
            deadline = now + timedelta(days=1 + 6 * fraction(i))
        else:
            status, step = "second_handling", "second_handling"
            deadline = now + timedelta(days=1 + 4 * fraction(i))
        fields.update(status=status, accepted_at=created.isoformat())
        fields.update(step_attributes(rid, step, deadline))
    else:
        created = now - timedelta(days=PERIOD_DAYS * fraction(i, 3))
        closed = min(now, created + timedelta(days=2 + 5 * fraction(i, 4)))
        fields.update(
            status="closed",
            accepted_at=(created + timedelta(hours=3)).isoformat(),
            resolved_at=(closed - timedelta(hours=12)).isoformat(),
            closed_at=closed.isoformat(),
            close_reason="satisfied",
            **STEP_FIELDS_CLEARED,
        )
    stamp = created.isoformat()
    return ReportModel(rid, created_at=stamp, updated_at=stamp, **fields)


def write_reports(plan: Plan, threads: int) -> float:
    """Write the plan's reports with `batch_write()` from `threads` threads; seconds taken."""
    from chalicelib.store.models import ReportModel

    ReportModel._get_connection().connection.client  # noqa: B018 (build the client once)

    def part(k: int) -> None:
        with ReportModel.batch_write() as batch:
            for i in range(k, plan.size, threads):
                batch.save(report_item(plan, i))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(part, k) for k in range(threads)]:
            future.result()
    return time.perf_counter() - started


def warmup_items(count: int, now: datetime, step: timedelta, events: int = 1) -> list:
    """Reports of another district at the third rung, due ten days ago (for the warm-up)."""
    from chalicelib.store.models import ReportModel
    from chalicelib.workflow.engine import due_attributes
    from chalicelib.workflow.operations import ANSWER_HOURS

    deadline = now - timedelta(days=10) - step * 2
    started = deadline - timedelta(hours=ANSWER_HOURS)
    items = []
    for n in range(count):
        rid = f"RWARM{n:03d}"
        items.append(
            ReportModel(
                rid,
                reporter_id="U-bench-citizen-warm",
                created_at=started.isoformat(),
                updated_at=started.isoformat(),
                status="accepted",
                category=CATEGORIES[0],
                text=TEXT.format(i=n),
                station_id=WARM_STATION,
                district_id=WARM_DISTRICT,
                city_id=CITY,
                accepted_by=WARM_DEPUTY,
                accepted_at=started.isoformat(),
                version=1,
                event_count=events,
                step_started_at=started.isoformat(),
                step_due_at=deadline.isoformat(),
                ladder_rung=3,
                overdue_district=WARM_DISTRICT,
                overdue_since=deadline.isoformat(),
                **due_attributes(rid, "answer", deadline + step * 2),
            )
        )
    return items


class _Recorder:
    """Stands in for a TransactWrite: records the counter items `counter_steps` updates."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []

    def update(self, item, actions, condition=None) -> None:
        self.keys.append((item.scope, item.key))


def counter_items(size: int, days: list[str]) -> list:
    """StatsModel items of `days` for `size` reports of the district over the period.

    The (scope, metric) of each counter is what `counter_steps` (what every transition
    uses) updates for such a report; the numbers are what as many transitions would have
    added: one item per scope, day and metric, whatever the number of reports.
    """
    from chalicelib.store.models import ReportModel, StatsModel
    from chalicelib.workflow.engine import Count, counter_steps
    from chalicelib.workflow.operations import deputy_activity

    template = ReportModel("R-template", district_id=DISTRICT, station_id=STATION, city_id=CITY)
    per_day, extra = divmod(size, len(days))
    items = []
    for d, day in enumerate(days):
        submitted = per_day + (1 if d < extra else 0)
        counts = []
        for metric, share, days_each in DAY_MIX:
            n = max(1, round(submitted * share))
            counts.append(Count(metric, n=n, total=round(n * days_each, 4)))
        counts += [
            Count(
                f"category:{code}", n=max(1, round(submitted * share)), scopes=("district", "city")
            )
            for code, share in zip(CATEGORIES, CATEGORY_SHARE, strict=True)
        ]
        counts.append(Count(f"station:{STATION}", n=submitted, scopes=("district", "city")))
        acted = max(1, round(submitted * 0.95 / len(DEPUTIES)))
        for deputy in DEPUTIES:
            counts += [Count(c.metric, n=acted, scopes=c.scopes) for c in deputy_activity(deputy)]
        for count in counts:
            recorder = _Recorder()
            for step in counter_steps(template, [count]):
                step(recorder)
            for scope, key in recorder.keys:
                metric = key.partition("#")[2]
                items.append(StatsModel(scope, f"{day}#{metric}", n=count.n, total=count.total))
    return items


def write_all(model, items: list) -> None:
    with model.batch_write() as batch:
        for item in items:
            batch.save(item)


# --------------------------------------------------------------------------- one table set


class TableSet:
    def __init__(self, label: str, prefix: str, size: int) -> None:
        self.label = label
        self.prefix = prefix
        self.size = size
        self.queue_url = ""
        self.plan: Plan | None = None
        self.built: dict = {}
        self.rounds: list[dict] = []
        self.figure_timings: list[float] = []

    def activate(self):
        """Point the app at this set's tables and queue; the (new) services."""
        from chalicelib.bootstrap import services

        os.environ["TABLE_PREFIX"] = self.prefix
        if self.queue_url:
            os.environ["NOTIFY_QUEUE_URL"] = self.queue_url
        else:
            os.environ.pop("NOTIFY_QUEUE_URL", None)
        return services()

    def queue_depth(self, svc) -> int:
        answer = svc.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(answer["Attributes"]["ApproximateNumberOfMessages"])

    def overdue_ids(self) -> list[int]:
        return [i for i in range(self.size) if self.plan.kind(i) == "overdue"]


def build(ts: TableSet, args, now: datetime, days: list[str]) -> None:
    from chalicelib.escalation.ladder import escalation_hours
    from chalicelib.store.models import ReportModel, StatsModel
    from chalicelib.store.tables import create_tables
    from devstack.seed import load_demo
    from devstack.stack import create_notice_queue

    svc = ts.activate()
    create_tables(svc.settings)
    ts.queue_url = create_notice_queue(svc)
    svc = ts.activate()
    load_demo(svc)
    ts.plan = Plan(ts.size, args.overdue, now, escalation_hours())
    kinds = defaultdict(int)
    for i in range(ts.size):
        kinds[ts.plan.kind(i)] += 1
    seconds = write_reports(ts.plan, args.threads)
    counters = counter_items(ts.size, days)
    started = time.perf_counter()
    write_all(StatsModel, counters)
    counter_seconds = time.perf_counter() - started
    write_all(ReportModel, warmup_items(args.warmup, now, ts.plan.step))
    ts.built = {
        "kinds": dict(kinds),
        "seconds": seconds,
        "counters": len(counters),
        "per_day": len(counters) // len(days),
    }
    print(
        f"  {ts.prefix:<18}{ts.size:>7,} reports ({kinds['overdue']} overdue, "
        f"{kinds['open']:,} open with future deadlines, {kinds['closed']:,} closed) in "
        f"{seconds:.1f}s ({ts.size / seconds:,.0f} items/s); {len(counters):,} counter items "
        f"({ts.built['per_day']}/day) in {counter_seconds:.1f}s",
        flush=True,
    )


def rearm(ts: TableSet, args, events: int) -> None:
    """Put the overdue and warm-up reports back as they were built (untimed); `events` is
    their timeline length so far (each sweep appended one event to each)."""
    from chalicelib.store.models import ReportModel

    items = []
    for i in ts.overdue_ids():
        item = report_item(ts.plan, i)
        item.event_count = events
        items.append(item)
    items += warmup_items(args.warmup, ts.plan.now, ts.plan.step, events)
    write_all(ReportModel, items)


def sweep_round(ts: TableSet, args, tally: Tally, problems: Problems, days, number: int) -> None:
    """One round on one set: re-arm, warm-up sweep, timed sweep, second sweep, figures."""
    from chalicelib.clock import utcnow
    from chalicelib.stats.figures import scope_figures
    from chalicelib.workflow.jobs import sweep_due_reports

    svc = ts.activate()
    tally.watch_sqs(svc.sqs)
    if number > 1:
        rearm(ts, args, events=number)
    out: dict = {"number": number}

    # warm-up: only the other district's last-rung reports are due at now - 5 days
    problems.records.clear()
    tally.reset()
    tally.active = True
    started = time.perf_counter()
    out["warmup"] = sweep_due_reports(svc, utcnow() - timedelta(days=5))
    out["warmup_seconds"] = time.perf_counter() - started
    tally.active = False
    out["depth_before"] = ts.queue_depth(svc)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()

    for name in ("first", "second"):
        tally.reset()
        tally.active = True
        now = utcnow()
        started = time.perf_counter()
        result = sweep_due_reports(svc, now)
        seconds = time.perf_counter() - started
        tally.active = False
        out[name] = {"result": result, "seconds": seconds, "tally": tally.snapshot()}
        out[name]["depth"] = ts.queue_depth(svc)
    out["problems"] = list(problems.records)

    scope = f"district:{DISTRICT}"
    out["figures"] = scope_figures(scope, days[0], days[-1])  # warm call
    for _ in range(args.figures_repeat):
        started = time.perf_counter()
        scope_figures(scope, days[0], days[-1])
        ts.figure_timings.append(time.perf_counter() - started)
    tally.reset()
    tally.active = True
    scope_figures(scope, days[0], days[-1])
    tally.active = False
    out["figures_tally"] = tally.snapshot()
    if args.gc_freeze:
        gc.unfreeze()
    ts.rounds.append(out)


def still_due(ts: TableSet) -> int:
    from chalicelib.clock import utcnow
    from chalicelib.store.models import ReportModel
    from chalicelib.workflow.engine import DUE_SHARDS

    ts.activate()
    now = utcnow().isoformat()
    return sum(
        ReportModel.due.count(str(shard), ReportModel.due_at <= now) for shard in range(DUE_SHARDS)
    )


# --------------------------------------------------------------------------- report


def total(snapshot: dict, field: str = "items") -> float:
    return sum(snapshot[field].values())


def print_breakdown(title: str, sets: list[TableSet], key) -> None:
    print(f"  {title}")
    labels = sorted({label for ts in sets for label in key(ts)["requests"]})
    head = "".join(f"{ts.label + ': req items CU s':>37}" for ts in sets)
    print(f"    {'request':<30}{head}")
    for label in labels:
        cells = []
        for ts in sets:
            snap = key(ts)
            cells.append(
                f"{snap['requests'].get(label, 0):>9}{snap['items'].get(label, 0):>9}"
                f"{snap['units'].get(label, 0):>9.1f}{snap['seconds'].get(label, 0):>10.3f}"
            )
        print(f"    {label:<30}" + "".join(cells))
    for ts in sets:
        snap = key(ts)
        if snap["writes"]:
            text = ", ".join(f"{k} {v}" for k, v in sorted(snap["writes"].items()))
            print(f"    {ts.label}: transaction entries {text}")
        if snap["errors"]:
            print(f"    {ts.label}: failed requests {snap['errors']}")


def _outcomes(result: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in result.items() if k != "read") or "-"


def report(sets: list[TableSet], args, days: list[str], order: list[str]) -> int:
    small, large = sets
    width = 19
    cols = f"{small.label:>{width}}{large.label:>{width}}{'large/small':>{width}}"

    def row(name: str, x, y, rate: str = "", note: str = "") -> None:
        print(f"  {name:<46}{x!s:>{width}}{y!s:>{width}}{rate:>{width}}  {note}".rstrip())

    a, b = small.rounds[0], large.rounds[0]
    f1, f2 = a["first"], b["first"]
    over = [ts.built["kinds"]["overdue"] for ts in sets]
    due = [total_label(f["tally"], "Query reports.due") for f in (f1, f2)]
    off = [(d - o) / o * 100 if o else 0.0 for d, o in zip(due, over, strict=True)]
    print(
        f"\nsweep_due_reports(services, now), round 1 — {args.overdue} overdue reports in each "
        f"set\n  {'':<46}{cols}"
    )
    row(
        "first sweep, seconds",
        f"{f1['seconds']:.3f}",
        f"{f2['seconds']:.3f}",
        ratio(f2["seconds"], f1["seconds"]),
        "(target <= 1.5)",
    )
    row("  outcomes", _outcomes(f1["result"]), _outcomes(f2["result"]))
    row("  'read' returned by the sweep", f1["result"]["read"], f2["result"]["read"])
    row(
        "  due-index items read (ScannedCount)",
        due[0],
        due[1],
        "",
        f"vs {over[0]} / {over[1]} overdue: {off[0]:+.1f} % / {off[1]:+.1f} % (target ±10 %)",
    )
    row(
        "  due-index RCU (ConsumedCapacity)",
        f"{f1['tally']['units'].get('Query reports.due', 0):.1f}",
        f"{f2['tally']['units'].get('Query reports.due', 0):.1f}",
    )
    row(
        "  items read, every request of the sweep",
        total(f1["tally"]),
        total(f2["tally"]),
        ratio(total(f2["tally"]), total(f1["tally"])),
        "(per overdue report: the report twice, its deputy, station staff)",
    )
    row("  DynamoDB + SQS requests", total(f1["tally"], "requests"), total(f2["tally"], "requests"))
    row(
        "  outbox items written (transaction Puts)",
        f1["tally"]["writes"].get("Put outbox", 0),
        f2["tally"]["writes"].get("Put outbox", 0),
    )
    row("  SQS messages accepted", f1["tally"]["messages"], f2["tally"]["messages"])
    row(
        "  queue depth before → after",
        f"{a['depth_before']} → {f1['depth']}",
        f"{b['depth_before']} → {f2['depth']}",
    )
    s1, s2 = a["second"], b["second"]
    row(
        "second sweep right after, seconds",
        f"{s1['seconds']:.3f}",
        f"{s2['seconds']:.3f}",
    )
    row("  'read' returned / outcomes", s1["result"]["read"], s2["result"]["read"])
    row("  items read (every request)", total(s1["tally"]), total(s2["tally"]))
    row("  SQS messages accepted", s1["tally"]["messages"], s2["tally"]["messages"])
    row("  queue depth after", s1["depth"], s2["depth"])
    index = [ts.built["kinds"]["open"] + ts.built["kinds"]["overdue"] for ts in sets]
    row("reports in the due index before the sweep", f"{index[0]:,}", f"{index[1]:,}")
    print()
    print_breakdown(
        "round 1, first sweep, by request:", sets, lambda ts: ts.rounds[0]["first"]["tally"]
    )

    print(
        f"\nevery round (order {' | '.join(order)}): the overdue and warm-up reports are put back "
        f"before each (untimed),\n  then a warm-up sweep of {args.warmup} last-rung reports of "
        f"{WARM_DISTRICT} (now - 5 days), the timed sweep, the second sweep\n  {'':<46}{cols}"
    )
    firsts = []
    for n in range(args.rounds):
        x, y = small.rounds[n], large.rounds[n]
        firsts.append((x["first"]["seconds"], y["first"]["seconds"]))
        row(
            f"round {n + 1}: first sweep s (read, due-index items)",
            f"{x['first']['seconds']:.3f} ({x['first']['result']['read']}, "
            f"{total_label(x['first']['tally'], 'Query reports.due')})",
            f"{y['first']['seconds']:.3f} ({y['first']['result']['read']}, "
            f"{total_label(y['first']['tally'], 'Query reports.due')})",
            ratio(y["first"]["seconds"], x["first"]["seconds"]),
        )
        row(
            "  second sweep s (read, items, messages)",
            f"{x['second']['seconds']:.3f} ({x['second']['result']['read']}, "
            f"{total(x['second']['tally']):.0f}, {x['second']['tally']['messages']})",
            f"{y['second']['seconds']:.3f} ({y['second']['result']['read']}, "
            f"{total(y['second']['tally']):.0f}, {y['second']['tally']['messages']})",
        )
        row(
            "  warm-up sweep s (outcomes)",
            f"{x['warmup_seconds']:.2f} ({_outcomes(x['warmup'])})",
            f"{y['warmup_seconds']:.2f} ({_outcomes(y['warmup'])})",
        )
    med = [statistics.median(col) for col in zip(*firsts, strict=True)]
    row(
        "median first sweep, seconds",
        f"{med[0]:.3f}",
        f"{med[1]:.3f}",
        ratio(med[1], med[0]),
        "(target <= 1.5)",
    )
    row(
        "  per overdue report, ms",
        f"{med[0] / max(1, over[0]) * 1000:.1f}",
        f"{med[1] / max(1, over[1]) * 1000:.1f}",
    )
    dues = [still_due(ts) for ts in sets]
    row("still due after the last round (count query)", dues[0], dues[1])

    fa, fb = a["figures"], b["figures"]
    ta, tb = small.rounds[-1]["figures_tally"], large.rounds[-1]["figures_tally"]
    ma, mb = (statistics.median(ts.figure_timings) for ts in sets)
    print(
        f"\nscope_figures('district:{DISTRICT}', '{days[0]}', '{days[-1]}') — {len(days)} days; "
        f"{args.figures_repeat} timed calls per round after a warm call\n  {'':<46}{cols}"
    )
    row("seconds, median", f"{ma:.4f}", f"{mb:.4f}", ratio(mb, ma))
    quart = [
        statistics.quantiles(ts.figure_timings, n=4) if len(ts.figure_timings) > 1 else [0, 0, 0]
        for ts in sets
    ]
    row(
        "seconds, quartiles 1 / 3",
        f"{quart[0][0]:.4f}/{quart[0][2]:.4f}",
        f"{quart[1][0]:.4f}/{quart[1][2]:.4f}",
    )
    row("seconds, min", f"{min(small.figure_timings):.4f}", f"{min(large.figure_timings):.4f}")
    row("items read per call (every request)", total(ta), total(tb), ratio(total(tb), total(ta)))
    row(
        "counter items read (Query stats)",
        total_label(ta, "Query stats"),
        total_label(tb, "Query stats"),
    )
    row(
        "counter items written per day (all scopes)", small.built["per_day"], large.built["per_day"]
    )
    for name in ("new", "accepted", "closed", "closure_rate", "avg_days_to_close", "satisfaction"):
        row(f"  {name}", fa[name], fb[name])
    for name in ("overdue", "overdue_entered", "deputies_total", "deputy_participation"):
        row(f"  {name} (round 1)", fa[name], fb[name])
    row("  by_day rows", len(fa["by_day"]), len(fb["by_day"]))
    print()
    print_breakdown(
        "one scope_figures call by request:", sets, lambda ts: ts.rounds[-1]["figures_tally"]
    )

    failures = []
    for ts in sets:
        for out in ts.rounds:
            for name in ("warmup", "first", "second"):
                result = out[name] if name == "warmup" else out[name]["result"]
                if result.get("errors"):
                    failures.append(f"{ts.label} round {out['number']} {name} sweep: {result}")
            if out["problems"]:
                failures.append(f"{ts.label} round {out['number']}: {out['problems'][:3]}")
    if failures:
        print("\nproblems:\n  " + "\n  ".join(failures))
    return 1 if any("errors" in f for f in failures) else 0


def total_label(snapshot: dict, label: str) -> int:
    return snapshot["items"].get(label, 0)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000, help="reports of the small set")
    parser.add_argument("--large", type=int, default=50000, help="reports of the large set")
    parser.add_argument("--overdue", type=int, default=100, help="overdue reports in each set")
    parser.add_argument("--threads", type=int, default=4, help="batch-writing threads")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up reports per set")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed sweeps per set, alternating order"
    )
    parser.add_argument(
        "--figures-repeat", type=int, default=10, help="timed scope_figures calls per round"
    )
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="collect and freeze the heap before the timed parts of a round (default on)",
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
            SQS_ENDPOINT=moto.url,
            S3_ENDPOINT=moto.url,
            WECHAT_API_BASE=wechat.url,
            UPLOAD_BUCKET="ssp-sweep-uploads",
        )
        os.environ.update(env)
        print(
            f"servers up in {time.perf_counter() - began:.1f}s: DynamoDB Local {ddb_local.url}, "
            f"moto (SQS) {moto.url}, WeChat emulator {wechat.url}",
            flush=True,
        )
        return run(args, stoppers)
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as error:  # keep stopping the others
                print(f"stop failed: {error!r}", file=sys.stderr)
        print(f"total wall time {time.perf_counter() - began:.1f}s; servers stopped")


def run(args, stoppers: list) -> int:
    from chalicelib.clock import utcnow
    from chalicelib.observability import configure_logging
    from chalicelib.workflow.engine import beijing_day

    configure_logging()
    devnull = open(os.devnull, "w")  # noqa: SIM115
    stoppers.append(devnull.close)
    root = logging.getLogger("ssp")
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    problems = Problems()
    root.addHandler(problems)

    sets = [
        TableSet(f"{args.small:,}", "ssp-sweep-small-", args.small),
        TableSet(f"{args.large:,}", "ssp-sweep-large-", args.large),
    ]
    tally = Tally([ts.prefix for ts in sets])
    tally.install()
    now = utcnow()
    last = date.fromisoformat(beijing_day(now))
    days = [(last - timedelta(days=n)).isoformat() for n in range(PERIOD_DAYS - 1, -1, -1)]

    print(
        f"table sets on one DynamoDB Local (district {DISTRICT}, station {STATION}, deputies "
        f"{'/'.join(DEPUTIES)}; batch_write from {args.threads} threads):",
        flush=True,
    )
    from chalicelib.escalation.ladder import escalation_hours

    step = escalation_hours()
    print(
        f"  overdue: `accepted`, answer step, deadline {0.05 * step:.1f}–{0.8 * step:.1f} h ago "
        f"(ESCALATION_HOURS={step:g}), half reminded (rung 1), half not (rung 0); open: answer, "
        f"work order, evaluation, second handling steps due later; counters: {PERIOD_DAYS} days "
        f"{days[0]}..{days[-1]}",
        flush=True,
    )
    for ts in sets:
        build(ts, args, now, days)
    order = []
    for n in range(1, args.rounds + 1):
        turn = sets if n % 2 else sets[::-1]
        order.append(", ".join(ts.label for ts in turn))
        for ts in turn:
            sweep_round(ts, args, tally, problems, days, n)
        print(f"  round {n} done ({order[-1]})", flush=True)
    return report(sets, args, days, order)


if __name__ == "__main__":
    sys.exit(main())
