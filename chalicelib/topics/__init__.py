"""Micro-topics (微专题): one kind of problem in one area, past a threshold within a window.

Intake logs every new report in `TopicLogModel` (hash = Beijing day) inside the report's own
transaction (`log_for_topics`). The daily job (`run_topic_job`, 09:30 Beijing) reads the
rolling window (`TOPIC_WINDOW_DAYS`, default 30) as one Query per day, groups the reports by
district, category and place (`grouping`), and

* opens a topic when a group without an open topic reaches `TOPIC_THRESHOLD` (default 10)
  reports, telling the city staff (outbox items, purpose `topic_opened`);
* links later reports of the group to its open topic.

"The same group never opens two topics": the topic is written in one transaction with a
conditional put of the group's `TopicGroupModel` item (absent, or its topic closed); a job
running twice, or two at once, opens nothing new. Only reports that passed moderation count.

Reads per run: one Query per day of the window, a BatchGet of the groups found, and BatchGets
of the topics and reports a plan touches; never a Scan.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from itertools import islice

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth.tokens import Principal
from chalicelib.bootstrap import Services
from chalicelib.clock import utcnow
from chalicelib.errors import Conflict, Forbidden, InvalidField, NotFound
from chalicelib.notify.outbox import Notice, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import (
    OutboxModel,
    ReportModel,
    TopicGroupModel,
    TopicLogModel,
    TopicModel,
)
from chalicelib.store.transactions import transact_write
from chalicelib.topics.grouping import (
    Entry,
    Group,
    GroupState,
    group_entries,
    plan_topics,
    topic_id,
    topic_title,
    window_days,
    window_start,
)
from chalicelib.workflow.engine import beijing_day

log = get_logger("topics")

DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 90
DEFAULT_THRESHOLD = 10
LOG_TTL_DAYS = MAX_WINDOW_DAYS + 30
MAX_TOPICS = 100
TOPIC_STATUSES = ("open", "closed")
TOPIC_PAGE = "pages/staff/topic?id={topic_id}"
MAX_CLOSE_NOTE = 500

Step = Callable[[TransactWrite], None]


def topic_window_days() -> int:
    """The rolling window in days (`TOPIC_WINDOW_DAYS`, default 30, at most 90)."""
    days = int(os.environ.get("TOPIC_WINDOW_DAYS") or DEFAULT_WINDOW_DAYS)
    return max(1, min(days, MAX_WINDOW_DAYS))


def topic_threshold() -> int:
    """Reports of one group that open a topic (`TOPIC_THRESHOLD`, default 10, at least 2)."""
    return max(2, int(os.environ.get("TOPIC_THRESHOLD") or DEFAULT_THRESHOLD))


# --- the intake step ---------------------------------------------------------------------


def _geohash5(report: ReportModel) -> str | None:
    from chalicelib.stations.geo import encode

    location = report.location
    if location is None or location.lat is None or location.lng is None:
        return None
    return encode(float(location.lat), float(location.lng), precision=5)


def log_entry(report: ReportModel) -> TopicLogModel | None:
    """The topic-log item of a new report (None when it has no district: it forms no group)."""
    if not report.district_id:
        return None
    created = datetime.fromisoformat(report.created_at)
    return TopicLogModel(
        beijing_day(created),
        f"{report.created_at}#{report.id}",
        report_id=report.id,
        created_at=report.created_at,
        category=report.category,
        district_id=report.district_id,
        city_id=report.city_id,
        station_id=report.station_id,
        geohash5=_geohash5(report),
        expires_at=int(time.time()) + LOG_TTL_DAYS * 86400,
    )


def log_for_topics(report: ReportModel) -> Step:
    """A transaction step logging a new report for the micro-topic job (intake adds it).

    A no-op for a report without a district.
    """
    item = log_entry(report)

    def step(transaction: TransactWrite) -> None:
        if item is not None:
            transaction.save(item, condition=TopicLogModel.entry.does_not_exist())

    return step


# --- the daily job -----------------------------------------------------------------------


def _entries(now: datetime, days: int) -> list[Entry]:
    entries = []
    for day in window_days(now, days):
        for item in TopicLogModel.query(day):
            entries.append(
                Entry(
                    report_id=item.report_id,
                    created_at=item.created_at,
                    category=item.category,
                    district_id=item.district_id,
                    city_id=item.city_id,
                    station_id=item.station_id,
                    geohash5=item.geohash5,
                )
            )
    return entries


def _states(keys: list[str]) -> dict[str, GroupState]:
    records = {r.group_key: r for r in TopicGroupModel.batch_get(keys)} if keys else {}
    open_ids = [r.topic_id for r in records.values() if r.status == "open"]
    linked = {}
    if open_ids:
        for topic in TopicModel.batch_get(open_ids, attributes_to_get=["id", "report_ids"]):
            linked[topic.id] = frozenset(topic.report_ids or [])
    return {
        key: GroupState(
            topic_id=record.topic_id,
            status=record.status,
            closed_at=record.closed_at,
            linked=linked.get(record.topic_id, frozenset()),
        )
        for key, record in records.items()
    }


def _counting(report_ids: set[str]) -> set[str]:
    """The reports that count for a topic: passed moderation (not held, not rejected)."""
    if not report_ids:
        return set()
    reports = ReportModel.batch_get(list(report_ids), attributes_to_get=["id", "moderation"])
    return {r.id for r in reports if r.moderation == "pass"}


def _names(group: Group) -> tuple[str, str]:
    from chalicelib.reports.categories import leaf_categories

    category_name = leaf_categories().get(group.category, {}).get("name", group.category)
    kind, _, value = group.place.partition(":")
    place_name = f"网格 {value}"
    if kind == "station":
        from chalicelib.stations.directory import get_station

        try:
            place_name = get_station(value).name
        except NotFound:
            place_name = value
    return place_name, category_name


def _open(services: Services, group: Group, threshold: int, days: int) -> TopicModel | None:
    """Open a topic for `group` (None when another run opened one first)."""
    from chalicelib.workflow import people

    now = utcnow()
    opened_at = now.isoformat(timespec="microseconds")
    place_name, category_name = _names(group)
    topic = TopicModel(
        topic_id(group.key, now),
        group_key=group.key,
        district_id=group.district_id,
        city_id=group.city_id,
        category=group.category,
        place=group.place,
        place_name=place_name,
        title=topic_title(place_name, category_name),
        window_days=days,
        threshold=threshold,
        report_ids=group.report_ids,
        report_count=len(group.reports),
        status="open",
        opened_at=opened_at,
        updated_at=opened_at,
    )
    values = {
        "topic_id": topic.id,
        "category_name": category_name,
        "place_name": place_name,
        "report_count": str(topic.report_count),
        "summary": topic.title,
    }
    notice = Notice("topic_opened", values, page=TOPIC_PAGE.format(topic_id=topic.id))
    scope = Scope(None, group.district_id, group.city_id)
    items: list[OutboxModel] = []
    for recipient in people.city_staff(group.city_id):
        items += outbox_items(topic.id, recipient, notice, scope)
    try:
        with transact_write(services.settings) as transaction:
            transaction.save(
                TopicGroupModel(group.key, topic_id=topic.id, status="open", opened_at=opened_at),
                condition=TopicGroupModel.group_key.does_not_exist()
                | (TopicGroupModel.status == "closed"),
            )
            transaction.save(topic, condition=TopicModel.id.does_not_exist())
            for item in items:
                transaction.save(item, condition=OutboxModel.id.does_not_exist())
    except TransactWriteError:
        log_event(log, "topic not opened: the group has one", group=group.key)
        return None
    enqueue(services, [item.id for item in items])
    log_event(log, "topic opened", topic_id=topic.id, group=group.key, reports=topic.report_count)
    return topic


def _link(topic_id_: str, report_ids: tuple[str, ...]) -> int:
    """Add reports to an open topic, unless a concurrent run changed it (it retries next day)."""
    from pynamodb.exceptions import UpdateError

    try:
        topic = TopicModel.get(topic_id_, consistent_read=True)
    except TopicModel.DoesNotExist:
        return 0
    new = [r for r in report_ids if r not in set(topic.report_ids or [])]
    if not new or topic.status != "open":
        return 0
    try:
        topic.update(
            actions=[
                TopicModel.report_ids.set(TopicModel.report_ids.append(new)),
                TopicModel.report_count.add(len(new)),
                TopicModel.updated_at.set(utcnow().isoformat(timespec="microseconds")),
            ],
            condition=(TopicModel.status == "open")
            & (TopicModel.report_count == topic.report_count),
        )
    except UpdateError:
        log_event(log, "topic link skipped: changed meanwhile", topic_id=topic_id_)
        return 0
    log_event(log, "reports linked to topic", topic_id=topic_id_, reports=len(new))
    return len(new)


def run_topic_job(services: Services, now: datetime | None = None) -> dict[str, int]:
    """Group the window's reports; open topics at the threshold, link later reports."""
    now = now or utcnow()
    days, threshold = topic_window_days(), topic_threshold()
    groups = group_entries(_entries(now, days), window_start(now, days))
    states = _states(list(groups))
    rough = plan_topics(groups, threshold, states)
    counting = _counting(rough.report_ids())
    plan = plan_topics(groups, threshold, states, is_valid=counting.__contains__)
    opened = sum(1 for group in plan.opens if _open(services, group, threshold, days))
    linked = sum(
        len(link.report_ids) for link in plan.links if _link(link.topic_id, link.report_ids)
    )
    result = {"groups": len(groups), "opened": opened, "linked": linked}
    log_event(log, "topic job done", **result)
    return result


# --- reading and closing -----------------------------------------------------------------


def _staff_scope(principal: Principal) -> tuple[str, str]:
    if principal.has("city_staff") and principal.city_id:
        return "city", principal.city_id
    if principal.has("district_staff") and principal.district_id:
        return "district", principal.district_id
    raise Forbidden("只有市、区人大工作人员可以查看微专题", code="forbidden_role")


def topic_view(topic: TopicModel, reports: list[dict] | None = None) -> dict:
    """What staff see of a topic (the detail adds its reports)."""
    from chalicelib.reports.categories import leaf_categories

    view = {
        "id": topic.id,
        "title": topic.title,
        "status": topic.status,
        "district_id": topic.district_id,
        "city_id": topic.city_id,
        "category": topic.category,
        "category_name": leaf_categories().get(topic.category, {}).get("name", topic.category),
        "place": topic.place,
        "place_name": topic.place_name,
        "report_count": int(topic.report_count or 0),
        "window_days": int(topic.window_days),
        "threshold": int(topic.threshold),
        "opened_at": topic.opened_at,
        "updated_at": topic.updated_at,
        "closed_at": topic.closed_at,
    }
    if reports is not None:
        view["report_ids"] = list(topic.report_ids or [])
        view["reports"] = reports
        view["close_note"] = topic.close_note
    return view


def parse_status(value: str | None) -> str | None:
    """The `status` filter of the list (422 otherwise)."""
    if value is not None and value not in TOPIC_STATUSES:
        raise InvalidField("状态须为 open 或 closed", field="status")
    return value


def visible_topics(principal: Principal, status: str | None) -> list[dict]:
    """Topics of the caller's city (city staff) or district (district staff), newest first."""
    kind, value = _staff_scope(principal)
    index = TopicModel.by_city if kind == "city" else TopicModel.by_district
    condition = TopicModel.status == status if status else None
    items = index.query(value, filter_condition=condition, scan_index_forward=False)
    return [topic_view(topic) for topic in islice(items, MAX_TOPICS)]


def _visible(principal: Principal, topic_id_: str) -> TopicModel:
    kind, value = _staff_scope(principal)
    try:
        topic = TopicModel.get(topic_id_, consistent_read=True) if topic_id_ else None
    except TopicModel.DoesNotExist:
        topic = None
    if topic is None or getattr(topic, f"{kind}_id") != value:
        raise NotFound("微专题不存在", code="topic_not_found")
    return topic


def _report_summaries(report_ids: list[str]) -> list[dict]:
    if not report_ids:
        return []
    found = {
        r.id: r
        for r in ReportModel.batch_get(
            report_ids,
            attributes_to_get=["id", "status", "category", "text", "station_id", "created_at"],
        )
    }
    return [
        {
            "id": r.id,
            "status": r.status,
            "category": r.category,
            "excerpt": (r.text or "")[:40],
            "station_id": r.station_id,
            "created_at": r.created_at,
        }
        for r in (found.get(report_id) for report_id in report_ids)
        if r is not None
    ]


def topic_detail(principal: Principal, topic_id_: str) -> dict:
    """One topic with its reports, for staff of its city or district (404 otherwise)."""
    topic = _visible(principal, topic_id_)
    return topic_view(topic, _report_summaries(list(topic.report_ids or [])))


def close_topic(services: Services, principal: Principal, topic_id_: str, body: dict) -> dict:
    """Close a topic (after the joint hearing); its group may then open a new one."""
    topic = _visible(principal, topic_id_)
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_CLOSE_NOTE):
        raise InvalidField(f"说明须为不超过 {MAX_CLOSE_NOTE} 字的文字", field="note")
    if topic.status != "open":
        raise Conflict("该微专题已关闭", code="topic_closed")
    now = utcnow().isoformat(timespec="microseconds")
    try:
        with transact_write(services.settings) as transaction:
            transaction.update(
                topic,
                [
                    TopicModel.status.set("closed"),
                    TopicModel.closed_at.set(now),
                    TopicModel.closed_by.set(principal.user_id),
                    TopicModel.updated_at.set(now),
                ]
                + ([TopicModel.close_note.set(note.strip())] if note and note.strip() else []),
                condition=TopicModel.status == "open",
            )
            transaction.update(
                TopicGroupModel(topic.group_key),
                [TopicGroupModel.status.set("closed"), TopicGroupModel.closed_at.set(now)],
                condition=TopicGroupModel.topic_id == topic.id,
            )
    except TransactWriteError:
        raise Conflict("该微专题已关闭", code="topic_closed") from None
    log_event(log, "topic closed", topic_id=topic.id)
    return topic_detail(principal, topic.id)
