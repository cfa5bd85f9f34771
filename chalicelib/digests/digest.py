"""Staff digests (每日督办、每周通报): one per area and period, to its WeCom robot and staff.

Every morning at 09:00 Beijing time (and on Mondays for the past week) each city,
district and station of the scope directory gets a digest of its period: new,
accepted, overdue (the oldest items with their age and who holds them),
escalated, closed, satisfaction, and notices that failed. It goes to the area's
WeCom group robot (markdown, split under 4096 bytes) and as a WeChat subscribe
message to its staff, linking to the staff page. Each digest is an outbox item
whose id names the area, the period and the recipient, so running the job twice
sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.bootstrap import Services
from chalicelib.clock import utcnow
from chalicelib.notify.outbox import Notice, Recipient, Scope, outbox_items
from chalicelib.notify.queue import enqueue
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import OutboxModel, ReportModel, ScopeModel
from chalicelib.workflow import people
from chalicelib.workflow.calendar import BEIJING

OLDEST_OVERDUE = 5
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


def _overdue_items(kind: str, ident: str, district_ids: list[str]) -> list[ReportModel]:
    items: list[ReportModel] = []
    for district in district_ids:
        items += list(ReportModel.overdue.query(district, limit=OLDEST_OVERDUE * 4))
    if kind == "station":
        items = [i for i in items if i.station_id == ident]
    items.sort(key=lambda i: i.overdue_since or "")
    return items[:OLDEST_OVERDUE]


def _failed_count(scope: Scope) -> int:
    count = 0
    for item in OutboxModel.failed.query("failed", scan_index_forward=False, limit=500):
        if (
            (scope.city_id and item.scope_city_id == scope.city_id and not scope.district_id)
            or (
                scope.district_id
                and item.scope_district_id == scope.district_id
                and not scope.station_id
            )
            or (scope.station_id and item.scope_station_id == scope.station_id)
        ):
            count += 1
    return count


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def render(
    area: ScopeModel,
    label: str,
    figures: dict,
    overdue: list[ReportModel],
    failed: int,
    now: datetime,
) -> str:
    """The digest as WeCom markdown (Chinese)."""
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
        f"　提级督办：{figures.get('escalated', 0)}　发送失败的通知：{failed}",
    ]
    if overdue:
        lines += ["", "**最久超期事项**"]
        for item in overdue:
            since = datetime.fromisoformat(item.overdue_since)
            days = max(0, (now - since).days)
            category = leaf_categories().get(item.category, {}).get("name", item.category)
            holder = f"{item.accepted_by}代表" if item.accepted_by else "待接单"
            if item.department_id:
                holder += f"／{item.department_id}"
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


def digest_items(area_kind: str, area: ScopeModel, period: str, now: datetime) -> list:
    """The outbox items of one area's digest: its robot and each of its staff."""
    from chalicelib.stats.figures import scope_figures

    label, first, last = period_of(period, now)
    scope, districts = _scope(area_kind, area)
    figures = scope_figures(
        f"{area_kind}:{area.id}", first, last, districts if area_kind == "city" else None
    )
    overdue = _overdue_items(area_kind, area.id, districts)
    content = render(area, label, figures, overdue, _failed_count(scope), now)
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
    written = skipped = 0
    for kind in ("city", "district", "station"):
        for area in ScopeModel.query(kind):
            ids = []
            for item in digest_items(kind, area, period, now):
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
