"""Micro-topic grouping: which reports form a group, when a topic opens, what gets linked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.topics.grouping import (
    Entry,
    GroupState,
    group_entries,
    group_key,
    place_of,
    plan_topics,
    topic_id,
    window_days,
    window_start,
)

NOW = datetime(2026, 5, 20, 1, 30, tzinfo=UTC)


def at(days_ago: float, n: int = 0) -> str:
    moment = NOW - timedelta(days=days_ago) + timedelta(microseconds=n)
    return moment.isoformat(timespec="microseconds")


def entries(count, station="S01", category="traffic.parking", district="shinan", start=0):
    return [
        Entry(f"R{start + n:03d}", at(5, start + n), category, district, "qingdao", station)
        for n in range(count)
    ]


def groups_of(items):
    return group_entries(items, window_start(NOW, 30))


def test_place_is_the_station_else_the_geohash5_cell():
    assert place_of("S01", "wwe0x1yz") == "station:S01"
    assert place_of(None, "wwe0x1yz") == "cell:wwe0x"
    assert place_of(None, None) is None and place_of(None, "ww") is None


def test_groups_by_district_category_and_place_within_the_window():
    items = entries(3) + entries(2, station="S02", start=10) + entries(1, category="x.y", start=20)
    items += [Entry("R-old", at(31), "traffic.parking", "shinan", "qingdao", "S01")]
    items += [Entry("R-nowhere", at(1), "traffic.parking", None, None, "S01")]
    items += [Entry("R-cell", at(1), "traffic.parking", "shinan", "qingdao", None, "wwe0x1")]
    groups = groups_of(items)
    assert {key: len(g.reports) for key, g in groups.items()} == {
        group_key("shinan", "traffic.parking", "station:S01"): 3,
        group_key("shinan", "traffic.parking", "station:S02"): 2,
        group_key("shinan", "x.y", "station:S01"): 1,
        group_key("shinan", "traffic.parking", "cell:wwe0x"): 1,
    }
    key = group_key("shinan", "traffic.parking", "station:S01")
    assert groups[key].report_ids == ["R000", "R001", "R002"]


def test_a_report_logged_twice_counts_once():
    items = entries(2)
    groups = groups_of(items + items[:1])
    assert [len(g.reports) for g in groups.values()] == [2]


def test_the_tenth_report_opens_a_topic_the_ninth_does_not():
    assert plan_topics(groups_of(entries(9)), 10, {}).opens == []
    plan = plan_topics(groups_of(entries(10)), 10, {})
    assert len(plan.opens) == 1 and plan.links == []
    assert plan.opens[0].report_ids == [f"R{n:03d}" for n in range(10)]


def test_an_open_topic_gets_later_reports_linked_never_a_second_topic():
    key = group_key("shinan", "traffic.parking", "station:S01")
    linked = frozenset(f"R{n:03d}" for n in range(10))
    state = {key: GroupState("T1", "open", linked=linked)}
    plan = plan_topics(groups_of(entries(11)), 10, state)
    assert plan.opens == []
    assert [(link.topic_id, link.report_ids) for link in plan.links] == [("T1", ("R010",))]
    assert plan_topics(groups_of(entries(10)), 10, state).links == []


def test_different_places_do_not_merge():
    items = entries(5) + entries(5, station="S02", start=5)
    assert plan_topics(groups_of(items), 10, {}).opens == []
    items += entries(5, station="S02", start=10)
    plan = plan_topics(groups_of(items), 10, {})
    assert [g.place for g in plan.opens] == ["station:S02"]


def test_reports_that_do_not_count_are_left_out():
    items = entries(10)
    plan = plan_topics(groups_of(items), 10, {}, is_valid=lambda r: r != "R003")
    assert plan.opens == []
    assert plan_topics(groups_of(entries(11)), 10, {}, lambda r: r != "R003").opens


def test_after_a_topic_closed_only_later_reports_count():
    key = group_key("shinan", "traffic.parking", "station:S01")
    closed = {key: GroupState("T1", "closed", closed_at=at(5, 5))}
    items = entries(12)
    assert plan_topics(groups_of(items), 10, closed).opens == []
    plan = plan_topics(groups_of(entries(16)), 10, closed)
    assert [g.report_ids[0] for g in plan.opens] == ["R006"]


def test_window_days_cover_the_beijing_days_of_the_window():
    days = window_days(NOW, 30)
    assert days[0] == "2026-04-20" and days[-1] == "2026-05-20" and len(days) == 31
    late = datetime(2026, 5, 20, 17, 0, tzinfo=UTC)  # 01:00 on 21 May in Beijing
    assert window_days(late, 1) == ["2026-05-20", "2026-05-21"]


def test_topic_ids_are_readable_and_distinct_per_opening():
    first = topic_id("shinan#traffic.parking#station:S01", NOW)
    assert first.startswith("T20260520-") and len(first) == 18
    assert first != topic_id("shinan#traffic.parking#station:S01", NOW + timedelta(seconds=1))
