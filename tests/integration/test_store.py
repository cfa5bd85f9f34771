"""The store layer against real DynamoDB servers: AWS's DynamoDB Local and moto.

Every test runs on both backends; DynamoDB Local is the reference for
conditional writes, transactions and index behaviour.
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.auth.tokens import Principal
from chalicelib.auth.users import get_or_create_user
from chalicelib.bootstrap import services
from chalicelib.reports.intake import keyed_report_id, submit_report
from chalicelib.reports.reading import my_reports
from chalicelib.reports.submission import parse_submission
from chalicelib.stations import geo
from chalicelib.stations.directory import geo_fields, nearest_stations
from chalicelib.store.models import (
    ReportEventModel,
    ReportModel,
    StationModel,
)
from chalicelib.store.transactions import transact_write

pytestmark = pytest.mark.integration


def _principal() -> Principal:
    suffix = uuid.uuid4().hex[:10]
    return Principal(f"u{suffix}", f"o{suffix}", ("citizen",))


def _station(station_id: str, lat: float, lng: float) -> StationModel:
    station = StationModel(
        station_id,
        name=station_id,
        address="测试地址",
        lat=lat,
        lng=lng,
        district_id="d",
        city_id="c",
        **geo_fields(lat, lng),
    )
    station.save()
    return station


def _bare_report(report_id: str, reporter_id: str, text: str) -> ReportModel:
    return ReportModel(
        report_id,
        reporter_id=reporter_id,
        created_at="t",
        updated_at="t",
        status="submitted",
        category="other.other",
        text=text,
    )


def test_first_logins_racing_create_one_user(backend):
    openid = f"o-race-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: get_or_create_user("app", openid), range(8)))
    assert len({u.id for u in users}) == 1
    assert len({u.created_at for u in users}) == 1


def test_concurrent_retries_under_one_idempotency_key_store_one_report(backend):
    _station("IT-S1", 36.0, 120.0)
    principal = _principal()
    submission = parse_submission(
        {"station_id": "IT-S1", "category": "other.other", "text": "并发重试"}
    )
    svc = services()
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda _: submit_report(svc, principal, submission, "same-key-123"), range(6))
        )
    assert len({report.id for report, _ in results}) == 1
    assert sum(1 for _, replayed in results if not replayed) == 1
    items, _ = my_reports(principal, 50, None)
    assert len(items) == 1


def test_a_keyed_id_held_by_another_users_report_leaves_it_alone(backend):
    _station("IT-S1", 36.0, 120.0)
    principal = _principal()
    taken = keyed_report_id(principal.user_id, "taken-key-0001")
    _bare_report(taken, reporter_id="someone-else", text="别人的反映").save()
    submission = parse_submission(
        {"station_id": "IT-S1", "category": "other.other", "text": "我的反映"}
    )
    report, replayed = submit_report(services(), principal, submission, "taken-key-0001")
    assert not replayed and report.id != taken
    assert report.reporter_id == principal.user_id
    assert ReportModel.get(taken).text == "别人的反映"


def test_a_failed_transaction_writes_nothing(backend):
    report_id = f"R-it-{uuid.uuid4().hex[:8]}"
    ReportEventModel(report_id, 2, type="accepted", at="t", actor_role="deputy").save()
    report = _bare_report(report_id, reporter_id="u", text="x")
    with pytest.raises(TransactWriteError):
        with transact_write(services().settings) as transaction:
            transaction.save(report, condition=ReportModel.id.does_not_exist())
            transaction.save(
                ReportEventModel(report_id, 2, type="accepted", at="t2", actor_role="deputy"),
                condition=ReportEventModel.seq.does_not_exist(),
            )
    with pytest.raises(ReportModel.DoesNotExist):
        ReportModel.get(report_id)
    assert ReportEventModel.get(report_id, 2).at == "t"


def test_reporter_index_pages_newest_first(backend):
    _station("IT-S1", 36.0, 120.0)
    principal = _principal()
    svc = services()
    ids = []
    for n in range(7):
        submission = parse_submission(
            {"station_id": "IT-S1", "category": "other.other", "text": f"第{n}条"}
        )
        ids.append(submit_report(svc, principal, submission, None)[0].id)
    seen, cursor = [], None
    while True:
        items, cursor = my_reports(principal, 3, cursor)
        seen += [item.id for item in items]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def _walk(name: str, area, limit: int) -> list[list[str]]:
    from chalicelib.staff.lists import page

    pages, cursor = [], None
    while len(pages) < 30:
        items, cursor = page(name, area, limit, cursor)
        pages.append([item.id for item in items])
        if cursor is None:
            return pages
    raise AssertionError("paging does not end")


def test_staff_lists_page_the_queue_index_across_districts(backend, monkeypatch):
    from chalicelib.staff import lists
    from chalicelib.staff.scopes import Area
    from chalicelib.store.models import ScopeModel

    tag = uuid.uuid4().hex[:8]
    city, districts = f"itc{tag}", [f"itd{tag}-1", f"itd{tag}-2"]
    stations = [f"IT{tag}-s1", f"IT{tag}-s2"]
    scopes = [ScopeModel("district", d, name=d, parent=f"city:{city}") for d in districts]
    for scope in scopes:
        scope.save()
    for station_id in stations:
        StationModel(
            station_id,
            name=station_id,
            address="测试地址",
            lat=36.0,
            lng=120.0,
            district_id=districts[0],
            city_id=city,
            **geo_fields(36.0, 120.0),
        ).save()
    planted = {}
    try:
        for n in range(9):
            district = districts[1] if n % 3 == 0 else districts[0]
            station = stations[n % 2] if district == districts[0] else None
            report = _bare_report(f"R{tag}{n}", reporter_id="u", text=f"第{n}条")
            report.status, report.station_id, report.district_id = "unmatched", station, district
            report.queue_key = f"unmatched#{district}"
            report.queued_at = f"2026-04-01T00:{n // 2:02d}:00.000000+00:00"
            report.save()
            planted[report.id] = (report.queued_at, station)

        pages = _walk("unmatched", Area("city", city), limit=2)
        listed = [i for p in pages for i in p]
        assert sorted(listed) == sorted(planted) and all(len(p) <= 2 for p in pages)
        assert [planted[i][0] for i in listed] == sorted(planted[i][0] for i in listed)

        # A station's list filters its district's partition; a small read budget cuts
        # pages short but loses nothing.
        monkeypatch.setattr(lists, "SCAN_BUDGET", 2)
        monkeypatch.setattr(lists, "FILTERED_PAGE_SIZE", 1)
        mine = sorted((at, i) for i, (at, station) in planted.items() if station == stations[0])
        pages = _walk("unmatched", Area("station", stations[0]), limit=2)
        assert [i for p in pages for i in p] == [i for _, i in mine]

        gone = mine[0][1]
        ReportModel(gone).update(
            actions=[ReportModel.queue_key.remove(), ReportModel.queued_at.remove()],
            add_version_condition=False,
        )
        pages = _walk("unmatched", Area("district", districts[0]), limit=50)
        assert gone not in pages[0] and len(pages[0]) == 5
    finally:
        for scope in scopes:
            scope.delete()


def _wait_for_geo_index(stations: list[StationModel], timeout: float = 10.0) -> None:
    """Global secondary indexes are eventually consistent: wait until all stations show."""
    buckets = {s.geo_bucket for s in stations}
    wanted = {s.id for s in stations}
    deadline = time.monotonic() + timeout
    while True:
        seen = {s.id for b in buckets for s in StationModel.geo.query(b)}
        if wanted <= seen or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def test_nearest_stations_equal_brute_force_on_random_points(backend):
    rng = random.Random(42)
    prefix = f"G{uuid.uuid4().hex[:5]}"
    center = (30.0 + rng.random(), 104.0 + rng.random())
    placed = []
    for n in range(120):
        lat = center[0] + rng.gauss(0, 0.15)
        lng = center[1] + rng.gauss(0, 0.15)
        placed.append(_station(f"{prefix}-{n:03d}", lat, lng))
    _wait_for_geo_index(placed)
    for _ in range(10):
        lat = center[0] + rng.gauss(0, 0.2)
        lng = center[1] + rng.gauss(0, 0.2)
        found = [s.id for s, _ in nearest_stations(lat, lng, 5) if s.id.startswith(prefix)]
        expected = sorted(placed, key=lambda s: geo.distance_m(lat, lng, s.lat, s.lng))[:5]
        assert found == [s.id for s in expected]
