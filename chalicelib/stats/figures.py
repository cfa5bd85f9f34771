"""Figures of a scope over a period, from the day counters the transitions keep.

`read_counters` is the only read of the counters: one paginated Query of a scope's
items between two Beijing days (`day#metric` range keys). `figures` is pure: it turns
summed counters into the figures defined in docs/metrics.md. `scope_figures` adds what
counters cannot hold: how many deputies an area has and how many reports are overdue
right now (both from indexes, never a Scan).

What each scope can show:
- district: everything (category and station breakdowns are counted per district);
- station: totals; participation from the station's deputies' own `actions` counters
  (a deputy's actions anywhere in the period); no category breakdown (categories are
  counted per district only);
- city: totals from the city's counters; category and station breakdowns, deputy
  participation and overdue reports over its districts (from the scope directory, or
  the districts the caller names).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from chalicelib.reports.categories import leaf_categories
from chalicelib.store.models import DeputyModel, ReportModel, StatsModel

PER_DAY = ("submitted", "closed")
RATE_DIGITS = 4
DAYS_DIGITS = 2

DEFINITIONS = {
    "new": {"label": "新增反映", "definition": "统计期内群众提交的反映数"},
    "accepted": {"label": "受理数", "definition": "统计期内代表接单的反映数"},
    "closed": {
        "label": "办结数",
        "definition": "统计期内办结的反映数（评价满意、两轮不满意后办结、逾期未评价自动关闭）",
    },
    "closure_rate": {"label": "办结率", "definition": "统计期内办结数 ÷ 统计期内受理数"},
    "avg_days_to_close": {
        "label": "平均办结时长（天）",
        "definition": "统计期内办结的反映，从提交到办结的平均天数",
    },
    "one_time_closure_rate": {
        "label": "一次办结率",
        "definition": "首轮办理即评价满意而办结的数 ÷ 办结数（未经二次办理）",
    },
    "satisfaction": {
        "label": "满意率",
        "definition": "满意评价数 ÷ 评价总数（每轮评价各计一次；未评价的不计入）",
    },
    "deputy_participation": {
        "label": "代表参与率",
        "definition": (
            "统计期内至少有一次履职操作（接单、答复、交办、进展、办结等）的代表数 ÷ 代表总数"
        ),
    },
    "not_evaluated": {
        "label": "未评价办结",
        "definition": "办理完毕后群众逾期未评价、自动关闭的反映数，单独统计，不计为满意",
    },
    "second_handling": {
        "label": "二次办理",
        "definition": "群众首次评价不满意、转入二次办理的反映数",
    },
    "escalated": {"label": "提级督办", "definition": "统计期内提级督办的次数"},
    "overdue": {
        "label": "超期未办结",
        "definition": "当前仍未办结且已超过本环节办理期限的反映数（实时数，不受统计期影响）",
    },
    "overdue_entered": {"label": "新增超期", "definition": "统计期内进入超期的次数"},
    "by_category": {"label": "分类统计", "definition": "统计期内各类别新增反映数"},
    "by_station": {"label": "联络站统计", "definition": "统计期内各联络站新增反映数"},
    "by_day": {"label": "每日趋势", "definition": "每日新增反映数与办结数（北京时间）"},
}


# --- reading ---------------------------------------------------------------------------


def _entry() -> dict:
    return {"n": 0, "total": 0.0}


def add_counter(counters: dict, day: str, metric: str, n: float, total: float) -> None:
    """Add one day's counter item to `counters` (in place)."""
    entry = counters.setdefault(metric, _entry())
    entry["n"] += int(n or 0)
    entry["total"] += float(total or 0)
    if metric in PER_DAY:
        days = entry.setdefault("days", {})
        days[day] = days.get(day, 0) + int(n or 0)


def read_counters(scope: str, day_from: str, day_to: str) -> dict[str, dict]:
    """Metric → {n, total[, days]} of `scope` summed over the days `day_from`..`day_to`.

    One Query (paginated by PynamoDB): hash `scope`, range key between the two days.
    Per-day values are kept for the metrics in PER_DAY.
    """
    counters: dict[str, dict] = {}
    condition = StatsModel.key.between(f"{day_from}#", f"{day_to}#\uffff")
    for item in StatsModel.query(scope, condition):
        day, _, metric = item.key.partition("#")
        add_counter(counters, day, metric, item.n, item.total)
    return counters


def merge_counters(parts: Iterable[dict]) -> dict[str, dict]:
    """The sum of several scopes' counters."""
    merged: dict[str, dict] = {}
    for part in parts:
        for metric, entry in part.items():
            target = merged.setdefault(metric, _entry())
            target["n"] += entry["n"]
            target["total"] += entry["total"]
            for day, n in entry.get("days", {}).items():
                days = target.setdefault("days", {})
                days[day] = days.get(day, 0) + n
    return merged


# --- pure figures ----------------------------------------------------------------------


def _ratio(part: float, whole: float, digits: int = RATE_DIGITS) -> float | None:
    return None if not whole else round(part / whole, digits)


def _days(day_from: str, day_to: str) -> list[str]:
    first, last = date.fromisoformat(day_from), date.fromisoformat(day_to)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _breakdown(counters: dict, prefix: str) -> list[tuple[str, int]]:
    rows = [
        (metric[len(prefix) :], int(entry["n"]))
        for metric, entry in counters.items()
        if metric.startswith(prefix) and entry["n"] > 0
    ]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def figures(
    counters: dict,
    deputies_total: int,
    overdue_open: int | None,
    period: tuple[str, str] | None = None,
) -> dict:
    """The figures of docs/metrics.md from summed counters (see `read_counters`).

    `deputies_total` is the number of deputies of the area (0 when unknown: participation
    is then None); `overdue_open` the reports open past their deadline now (None when
    unknown). With `period` (first, last day) every day of it appears in `by_day`.
    Rates are None when their denominator is 0.
    """

    def n(metric: str) -> int:
        return int(counters.get(metric, {}).get("n", 0))

    closed = counters.get("closed", _entry())
    active = [deputy for deputy, _ in _breakdown(counters, "active:")]
    categories = leaf_categories()
    per_day = {metric: counters.get(metric, {}).get("days", {}) for metric in PER_DAY}
    days = (
        _days(*period) if period else sorted({day for values in per_day.values() for day in values})
    )
    return {
        "new": n("submitted"),
        "accepted": n("accepted"),
        "closed": n("closed"),
        "resolved": n("resolved"),
        "transferred": n("transferred"),
        "suggestions": n("suggestions"),
        "merged": n("merged"),
        "rejected": n("rejected"),
        "evaluations": n("evaluations"),
        "satisfied": n("satisfied"),
        "unsatisfied": n("unsatisfied"),
        "closed_satisfied": n("closed_satisfied"),
        "closed_unsatisfied": n("closed_unsatisfied"),
        "not_evaluated": n("closed_not_evaluated"),
        "closed_first_time": n("closed_first_time"),
        "second_handling": n("second_handling"),
        "escalated": n("escalated"),
        "overdue": overdue_open,
        "overdue_entered": n("overdue"),
        "closure_rate": _ratio(n("closed"), n("accepted")),
        "avg_days_to_close": _ratio(closed["total"], closed["n"], DAYS_DIGITS),
        "one_time_closure_rate": _ratio(n("closed_first_time"), n("closed")),
        "satisfaction": _ratio(n("satisfied"), n("evaluations")),
        "deputies_total": int(deputies_total or 0),
        "deputies_active": len(active),
        "deputy_participation": _ratio(len(active), deputies_total or 0),
        "by_category": [
            {"category": code, "name": categories.get(code, {}).get("name", code), "count": count}
            for code, count in _breakdown(counters, "category:")
        ],
        "by_station": [
            {"station_id": station, "count": count}
            for station, count in _breakdown(counters, "station:")
        ],
        "by_day": [
            {
                "day": day,
                "submitted": per_day["submitted"].get(day, 0),
                "closed": per_day["closed"].get(day, 0),
            }
            for day in days
        ],
        "definitions": DEFINITIONS,
    }


# --- a scope's figures -----------------------------------------------------------------


def _station_names(result: dict) -> None:
    from chalicelib.reports.reading import station_name

    for row in result["by_station"]:
        row["name"] = station_name(row["station_id"])


def _station_counters(station, day_from: str, day_to: str) -> tuple[dict, int, int]:
    counters = read_counters(f"station:{station.id}", day_from, day_to)
    deputy_ids = [d.id for d in DeputyModel.station.query(station.id, attributes_to_get=["id"])]
    for deputy_id in deputy_ids:
        actions = read_counters(f"deputy:{deputy_id}", day_from, day_to).get("actions")
        if actions and actions["n"] > 0:
            counters[f"active:{deputy_id}"] = {"n": actions["n"], "total": 0.0}
    overdue = ReportModel.overdue.count(
        station.district_id, filter_condition=ReportModel.station_id == station.id
    )
    return counters, len(deputy_ids), overdue


def _city_counters(
    city_id: str, day_from: str, day_to: str, districts: list[str]
) -> tuple[dict, int, int | None]:
    """A city's own counters (totals and breakdowns are counted at city scope too);
    its districts give the deputies, who of them took part, and the overdue reports."""
    counters = read_counters(f"city:{city_id}", day_from, day_to)
    if not districts:
        return counters, 0, None
    active = merge_counters(read_counters(f"district:{d}", day_from, day_to) for d in districts)
    counters = {m: e for m, e in counters.items() if not m.startswith("active:")}
    counters.update({m: e for m, e in active.items() if m.startswith("active:")})
    deputies = sum(DeputyModel.district.count(d) for d in districts)
    overdue = sum(ReportModel.overdue.count(d) for d in districts)
    return counters, deputies, overdue


def city_districts(city_id: str) -> list[str]:
    """The districts of a city, from the scope directory (one Query)."""
    from chalicelib.store.models import ScopeModel

    return [s.id for s in ScopeModel.query("district") if s.parent == f"city:{city_id}"]


def scope_figures(
    scope: str, day_from: str, day_to: str, districts: list[str] | None = None
) -> dict:
    """Figures of `scope` ("city:…", "district:…", "station:…") over the Beijing days given.

    For a city, breakdowns, participation and overdue reports cover `districts` (the
    city's districts the caller names); without them only the city's totals are shown.
    """
    from chalicelib.stations.directory import get_station

    kind, _, ident = scope.partition(":")
    notes: list[str] = []
    if kind == "district":
        counters = read_counters(scope, day_from, day_to)
        deputies, overdue = DeputyModel.district.count(ident), ReportModel.overdue.count(ident)
    elif kind == "station":
        counters, deputies, overdue = _station_counters(get_station(ident), day_from, day_to)
        notes.append("联络站范围不含分类统计；代表参与率按本站代表在统计期内的全部履职操作计算")
    elif kind == "city":
        districts = districts or city_districts(ident)
        counters, deputies, overdue = _city_counters(ident, day_from, day_to, districts)
        if not districts:
            notes.append("该市尚未登记所辖区，分类统计、代表参与率与超期数暂缺")
    else:
        raise ValueError(f"unknown scope {scope!r}")
    result = {"scope": scope, "from": day_from, "to": day_to}
    if kind == "city":
        result["districts"] = list(districts or [])
    result.update(figures(counters, deputies, overdue, period=(day_from, day_to)))
    _station_names(result)
    result["notes"] = notes
    return result
