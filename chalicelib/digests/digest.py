"""Staff digests (每日督办、每周通报): one per area and period, to its WeCom robot and staff.

Every morning at 09:00 Beijing time (and on Mondays for the past week) each city,
district and station of the scope directory gets a digest of its period: new,
accepted, overdue (the five oldest items with their age and the names of the deputy
and department holding them), escalated, closed, satisfaction, and the notices that
failed or stayed unconfirmed during the period. It goes to the area's WeCom group
robot (markdown, split under 4096 bytes) and as a WeChat subscribe message to its
staff, linking to the staff page. Each digest is an outbox item whose id names the
area, the period and the recipient, so running the job twice sends nothing twice.

Reads, once per run (``RunReads``): the overdue index per district (oldest first, page
by page, at most ``OVERDUE_READ_LIMIT`` items; a station's digest takes its five oldest
from its district's list) and the failed-notices index over the period's ``failed_at``
range; per area, one batch get each for the holders' names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice

from chalicelib.bootstrap import Services
from chalicelib.clock import iso_utc, utcnow
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import (
    DepartmentModel,
    DeputyModel,
    OutboxModel,
    ReportModel,
    ScopeModel,
)
from chalicelib.workflow import people
from chalicelib.workflow.calendar import BEIJING

OLDEST_OVERDUE = 5
OVERDUE_READ_LIMIT = 2000
OVERDUE_PAGE_SIZE = 200
FAILED_READ_LIMIT = 2000
STAFF_PAGE = "pages/staff/digest?scope={scope}&period={period}"
log = get_logger("digests")


def period_of(kind: str, now: datetime) -> tuple[str, str, str]:
    """(label, first day, last day) of the period a digest sent at `now` covers."""
    today = now.astimezone(BEIJING).date()
    if kind == "weekly":
        last = today - timedelta(days=1)
        first = last - timedelta(days=6)
        return (
            f"{first.isocalendar().year}-W{first.isocalendar().week:02d}",
            first.isoformat(),
            last.isoformat(),
        )
    day = (today - timedelta(days=1)).isoformat()
    return day, day, day


@dataclass(frozen=True)
class NoticeCounts:
    """Notices of an area that failed, or stayed unconfirmed, during a period."""

    failed: int = 0
    unconfirmed: int = 0


def _period_bounds(first: str, last: str) -> tuple[str, str]:
    """The UTC ``failed_at`` range (ISO, as delivery writes it) of Beijing days first…last."""
    start = datetime.combine(date.fromisoformat(first), time(), BEIJING)
    end = datetime.combine(date.fromisoformat(last) + timedelta(days=1), time(), BEIJING)
    end -= timedelta(microseconds=1)
    return iso_utc(start), iso_utc(end)


def _in_area(scope: Scope, item: OutboxModel) -> bool:
    if scope.station_id:
        return item.scope_station_id == scope.station_id
    if scope.district_id:
        return item.scope_district_id == scope.district_id
    return bool(scope.city_id) and item.scope_city_id == scope.city_id


class RunReads:
    """What every area's digest in one run reads, read once for the run.

    The period's failed and unconfirmed notices (one range query on the failed index,
    filtered per area) and each district's overdue list, oldest first (read page by
    page, at most ``OVERDUE_READ_LIMIT`` items, when a digest first needs it).
    """

    def __init__(self, first: str, last: str) -> None:
        start, end = _period_bounds(first, last)
        self._notices = list(
            OutboxModel.failed.query(
                "failed", OutboxModel.failed_at.between(start, end), limit=FAILED_READ_LIMIT
            )
        )
        self._overdue: dict[str, list[ReportModel]] = {}

    def notice_counts(self, scope: Scope) -> NoticeCounts:
        """Failed and unconfirmed notices of the area whose outcome fell within the period."""
        failed = unconfirmed = 0
        for item in self._notices:
            if not _in_area(scope, item):
                continue
            if item.status == "unconfirmed":
                unconfirmed += 1
            else:
                failed += 1
        return NoticeCounts(failed, unconfirmed)

    def district_overdue(self, district_id: str) -> list[ReportModel]:
        """The district's overdue reports, oldest first (bounded)."""
        if district_id not in self._overdue:
            items = list(
                ReportModel.overdue.query(
                    district_id, limit=OVERDUE_READ_LIMIT, page_size=OVERDUE_PAGE_SIZE
                )
            )
            if len(items) >= OVERDUE_READ_LIMIT:
                log_event(log, "district overdue list cut at the read limit", district=district_id)
            self._overdue[district_id] = items
        return self._overdue[district_id]

    def oldest_overdue(self, kind: str, ident: str, district_ids: list[str]) -> list[ReportModel]:
        """The area's oldest overdue reports (at most ``OLDEST_OVERDUE``), oldest first."""
        if kind == "station":
            if not district_ids:
                return []
            mine = (i for i in self.district_overdue(district_ids[0]) if i.station_id == ident)
            return list(islice(mine, OLDEST_OVERDUE))
        items = [
            item
            for district in district_ids
            for item in self.district_overdue(district)[:OLDEST_OVERDUE]
        ]
        items.sort(key=lambda i: i.overdue_since or "")
        return items[:OLDEST_OVERDUE]


def _holder_names(items: list[ReportModel]) -> dict[str, str]:
    """Names of the deputies and departments holding ``items`` (one batch get each)."""
    names: dict[str, str] = {}
    deputies = sorted({i.accepted_by for i in items if i.accepted_by})
    departments = sorted({i.department_id for i in items if i.department_id})
    if deputies:
        for deputy in DeputyModel.batch_get(deputies, attributes_to_get=["id", "name"]):
            names[f"deputy:{deputy.id}"] = deputy.name
    if departments:
        for department in DepartmentModel.batch_get(departments, attributes_to_get=["id", "name"]):
            names[f"department:{department.id}"] = department.name
    return names


def _holder(item: ReportModel, names: dict[str, str]) -> str:
    """Who holds an overdue report: the deputy's name, and the department's when transferred."""
    if item.accepted_by:
        holder = f"{names.get(f'deputy:{item.accepted_by}', item.accepted_by)}代表"
    elif item.status == "unmatched":
        holder = "待工作人员分派"
    else:
        holder = "待接单"
    if item.department_id:
        holder += f"／{names.get(f'department:{item.department_id}', item.department_id)}"
    return holder


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def render(
    area: ScopeModel,
    label: str,
    figures: dict,
    overdue: list[ReportModel],
    notices: NoticeCounts,
    now: datetime,
    names: dict[str, str] | None = None,
) -> str:
    """The digest as WeCom markdown (Chinese); ``names`` from ``_holder_names``."""
    from chalicelib.reports.categories import leaf_categories

    lines = [
        f"## 随手拍{'周报' if '-W' in label else '日报'}｜{area.name}",
        f"> 统计期：{figures['from']} 至 {figures['to']}",
        "",
        f"- 新增反映：**{figures.get('new', 0)}**　受理：**{figures.get('accepted', 0)}**"
        f"　办结：**{figures.get('closed', 0)}**",
        f"- 办结率：{_percent(figures.get('closure_rate'))}　满意率："
        f"{_percent(figures.get('satisfaction'))}　一次办结率："
        f"{_percent(figures.get('one_time_closure_rate'))}",
        f'- 超期未办：<font color="warning">{figures.get("overdue") or 0}</font>'
        f"　提级督办：{figures.get('escalated', 0)}",
        f"- 发送失败的通知：{notices.failed}　未确认送达的通知：{notices.unconfirmed}",
    ]
    if overdue:
        lines += ["", "**最久超期事项**"]
        for item in overdue:
            since = datetime.fromisoformat(item.overdue_since)
            days = max(0, (now - since).days)
            category = leaf_categories().get(item.category, {}).get("name", item.category)
            holder = _holder(item, names or {})
            lines.append(f"- {item.id}｜{category}｜超期 {days} 天｜{holder}")
    lines += ["", f'<font color="comment">生成于 {now.astimezone(BEIJING):%Y-%m-%d %H:%M}</font>']
    return "\n".join(lines)


def _staff(kind: str, ident: str) -> list[Recipient]:
    if kind == "city":
        return people.city_staff(ident)
    if kind == "district":
        return people.district_staff(ident)
    return people.station_staff(ident)


def _scope(kind: str, area: ScopeModel) -> tuple[Scope, list[str]]:
    from chalicelib.stats.figures import city_districts

    if kind == "city":
        return Scope(city_id=area.id), city_districts(area.id)
    if kind == "district":
        city = (area.parent or "").partition(":")[2] or None
        return Scope(district_id=area.id, city_id=city), [area.id]
    district = (area.parent or "").partition(":")[2] or None
    return Scope(station_id=area.id, district_id=district), [district] if district else []


def digest_items(
    area_kind: str, area: ScopeModel, period: str, now: datetime, reads: RunReads
) -> list:
    """The outbox items of one area's digest: its robot and each of its staff."""
    from chalicelib.stats.figures import scope_figures

    label, first, last = period_of(period, now)
    scope, districts = _scope(area_kind, area)
    figures = scope_figures(
        f"{area_kind}:{area.id}", first, last, districts if area_kind == "city" else None
    )
    overdue = reads.oldest_overdue(area_kind, area.id, districts)
    notices = reads.notice_counts(scope)
    content = render(area, label, figures, overdue, notices, now, _holder_names(overdue))
    subject = f"digest:{area_kind}:{area.id}:{label}"
    summary = (
        f"新增{figures.get('new', 0)} 办结{figures.get('closed', 0)} "
        f"超期{figures.get('overdue') or 0}"
    )
    values = {
        "scope_name": area.name,
        "summary": summary,
        "period": label,
        "markdown": content,
        "report_id": subject,
    }
    page = STAFF_PAGE.format(scope=f"{area_kind}:{area.id}", period=label)
    items = []
    if area.wecom_key:
        robot = Recipient("robot", f"{area_kind}:{area.id}", openid=None)
        items += outbox_items(
            subject, robot, Notice("staff_digest", values, page), scope, channels=("wecom",)
        )
    for staff in _staff(area_kind, area.id):
        items += outbox_items(
            subject, staff, Notice("staff_digest", values, page), scope, channels=("wechat",)
        )
    return items


def send_digests(services: Services, period: str, now: datetime | None = None) -> dict[str, int]:
    """Write (once per area, period and recipient) and queue every area's digest."""
    from pynamodb.exceptions import PutError

    now = now or utcnow()
    _, first, last = period_of(period, now)
    reads = RunReads(first, last)
    written = skipped = 0
    for kind in ("city", "district", "station"):
        for area in ScopeModel.query(kind):
            ids = []
            for item in digest_items(kind, area, period, now, reads):
                try:
                    item.save(condition=OutboxModel.id.does_not_exist())
                except PutError:
                    skipped += 1
                    continue
                ids.append(item.id)
                written += 1
            enqueue(services, ids)
    log_event(log, "digests queued", period=period, written=written, already=skipped)
    return {"written": written, "already_sent": skipped}
