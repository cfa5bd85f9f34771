"""The figures of docs/metrics.md from hand-made counters (pure: no tables)."""

from __future__ import annotations

import pytest

from chalicelib.stats.figures import DEFINITIONS, add_counter, figures, merge_counters


def _counters(rows: list[tuple[str, str, float, float]]) -> dict:
    counters: dict = {}
    for day, metric, n, total in rows:
        add_counter(counters, day, metric, n, total)
    return counters


QINGDAO_LIKE = _counters(
    [
        ("2026-03-01", "submitted", 6, 0),
        ("2026-03-02", "submitted", 4, 0),
        ("2026-03-01", "accepted", 8, 0),
        ("2026-03-02", "accepted", 2, 0),
        ("2026-03-02", "closed", 5, 41.0),
        ("2026-03-03", "closed", 3, 24.6),
        ("2026-03-02", "closed_first_time", 7, 0),
        ("2026-03-02", "closed_satisfied", 6, 0),
        ("2026-03-03", "closed_unsatisfied", 1, 0),
        ("2026-03-03", "closed_not_evaluated", 1, 0),
        ("2026-03-02", "evaluations", 9, 0),
        ("2026-03-02", "satisfied", 7, 0),
        ("2026-03-02", "unsatisfied", 2, 0),
        ("2026-03-02", "second_handling", 1, 0),
        ("2026-03-03", "escalated", 1, 0),
        ("2026-03-03", "overdue", 2, 0),
        ("2026-03-01", "category:traffic.parking", 4, 0),
        ("2026-03-02", "category:traffic.parking", 3, 0),
        ("2026-03-01", "category:municipal.road", 3, 0),
        ("2026-03-01", "station:S01", 7, 0),
        ("2026-03-02", "station:S02", 3, 0),
        ("2026-03-01", "active:D01", 3, 0),
        ("2026-03-02", "active:D01", 1, 0),
        ("2026-03-02", "active:D02", 2, 0),
        ("2026-03-02", "active:D09", 0, 0),
    ]
)


def test_rates_follow_the_domain_definitions():
    result = figures(QINGDAO_LIKE, deputies_total=3, overdue_open=4)
    assert result["new"] == 10 and result["accepted"] == 10 and result["closed"] == 8
    assert result["closure_rate"] == 0.8
    assert result["avg_days_to_close"] == pytest.approx((41.0 + 24.6) / 8, abs=0.005)
    assert result["one_time_closure_rate"] == 0.875
    assert result["satisfaction"] == round(7 / 9, 4) == 0.7778
    assert result["deputies_active"] == 2, "a zero counter is no action"
    assert result["deputy_participation"] == 0.6667
    assert result["not_evaluated"] == 1 and result["closed_satisfied"] == 6
    assert result["second_handling"] == 1 and result["escalated"] == 1
    assert result["overdue"] == 4 and result["overdue_entered"] == 2


def test_breakdowns_by_category_station_and_day():
    result = figures(QINGDAO_LIKE, 3, 0, period=("2026-02-28", "2026-03-03"))
    assert result["by_category"] == [
        {"category": "traffic.parking", "name": "停车难、乱停车", "count": 7},
        {"category": "municipal.road", "name": "道路破损", "count": 3},
    ]
    assert result["by_station"] == [
        {"station_id": "S01", "count": 7},
        {"station_id": "S02", "count": 3},
    ]
    assert result["by_day"] == [
        {"day": "2026-02-28", "submitted": 0, "closed": 0},
        {"day": "2026-03-01", "submitted": 6, "closed": 0},
        {"day": "2026-03-02", "submitted": 4, "closed": 5},
        {"day": "2026-03-03", "submitted": 0, "closed": 3},
    ]


def test_without_a_period_by_day_lists_the_days_seen():
    days = [row["day"] for row in figures(QINGDAO_LIKE, 3, 0)["by_day"]]
    assert days == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_zero_denominators_give_none_not_errors():
    result = figures({}, deputies_total=0, overdue_open=None)
    for rate in (
        "closure_rate",
        "avg_days_to_close",
        "one_time_closure_rate",
        "satisfaction",
        "deputy_participation",
    ):
        assert result[rate] is None, rate
    assert result["new"] == result["closed"] == result["deputies_active"] == 0
    assert result["by_category"] == result["by_station"] == result["by_day"] == []
    assert result["overdue"] is None


def test_closed_without_acceptance_and_deputies_without_actions():
    counters = _counters([("2026-03-01", "closed", 2, 3.0), ("2026-03-01", "evaluations", 0, 0)])
    result = figures(counters, deputies_total=5, overdue_open=0)
    assert result["closure_rate"] is None
    assert result["avg_days_to_close"] == 1.5
    assert result["one_time_closure_rate"] == 0.0
    assert result["satisfaction"] is None
    assert result["deputy_participation"] == 0.0


def test_unknown_category_keeps_its_code_as_name():
    counters = _counters([("2026-03-01", "category:gone.away", 1, 0)])
    assert figures(counters, 0, 0)["by_category"] == [
        {"category": "gone.away", "name": "gone.away", "count": 1}
    ]


def test_merge_sums_scopes_and_their_days():
    a = _counters([("2026-03-01", "submitted", 1, 0), ("2026-03-01", "closed", 1, 2.0)])
    b = _counters([("2026-03-01", "submitted", 2, 0), ("2026-03-02", "closed", 1, 4.0)])
    merged = merge_counters([a, b])
    assert merged["submitted"] == {"n": 3, "total": 0.0, "days": {"2026-03-01": 3}}
    assert merged["closed"]["days"] == {"2026-03-01": 1, "2026-03-02": 1}
    assert merged["closed"]["total"] == 6.0
    assert a["submitted"]["n"] == 1, "inputs are left alone"


def test_definitions_carry_chinese_labels_for_every_figure_shown():
    result = figures(QINGDAO_LIKE, 3, 0)
    for name in (
        "closure_rate",
        "avg_days_to_close",
        "one_time_closure_rate",
        "satisfaction",
        "deputy_participation",
        "overdue",
        "not_evaluated",
    ):
        assert name in result and DEFINITIONS[name]["label"], name
    assert result["definitions"]["closure_rate"]["label"] == "办结率"
