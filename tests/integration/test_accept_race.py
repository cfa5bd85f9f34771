"""Ten deputies accept one report at the same moment: exactly one wins (DynamoDB Local and moto)."""

from __future__ import annotations

import threading
import uuid

import pytest

from chalicelib.auth.tokens import Principal
from chalicelib.bootstrap import services
from chalicelib.errors import Conflict
from chalicelib.reports.intake import submit_report
from chalicelib.reports.submission import parse_submission
from chalicelib.stations.directory import geo_fields
from chalicelib.store.models import DeputyModel, ReportModel, StationModel, TaskModel
from chalicelib.workflow import operations

pytestmark = pytest.mark.integration


def test_ten_deputies_accept_concurrently_one_wins(backend, monkeypatch):
    if backend == "moto":
        pytest.skip(
            "moto does not isolate concurrent transactions; DynamoDB Local is the reference"
        )
    monkeypatch.setenv("MATCH_TOP_K", "10")
    district = f"race-{uuid.uuid4().hex[:6]}"
    station_id = f"RS{uuid.uuid4().hex[:6]}"
    StationModel(
        station_id,
        name="竞争测试站",
        address="测试",
        lat=45.0,
        lng=90.0,
        district_id=district,
        city_id="c",
        **geo_fields(45.0, 90.0),
    ).save()
    deputies = [f"{district}-D{n}" for n in range(10)]
    for deputy_id in deputies:
        DeputyModel(
            deputy_id,
            name=deputy_id,
            level="district",
            station_id=station_id,
            district_id=district,
            city_id="c",
            phone="13900000000",
        ).save()
    citizen = Principal(f"u{uuid.uuid4().hex[:8]}", f"o{uuid.uuid4().hex[:8]}", ("citizen",))
    submission = parse_submission(
        {"station_id": station_id, "category": "other.other", "text": "十位代表同时接单"}
    )
    svc = services()
    report, _, _ = submit_report(svc, citizen, submission, None)
    operations.match_report(svc, report.id)
    assert len(ReportModel.get(report.id).matched_deputy_ids) == 10

    barrier = threading.Barrier(10)
    outcomes: dict[str, int] = {}

    def accept(deputy_id: str) -> None:
        principal = Principal(f"u-{deputy_id}", "o", ("citizen", "deputy"), deputy_id=deputy_id)
        barrier.wait()
        try:
            operations.accept(svc, principal, report.id)
            outcomes[deputy_id] = 200
        except Conflict as error:
            outcomes[deputy_id] = error.status

    threads = [threading.Thread(target=accept, args=(d,)) for d in deputies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == [200] + [409] * 9
    winner = next(d for d, status in outcomes.items() if status == 200)
    stored = ReportModel.get(report.id, consistent_read=True)
    assert stored.status == "accepted" and stored.accepted_by == winner
    tasks = {t.deputy_id: t.status for t in TaskModel.by_report.query(report.id)}
    assert tasks[winner] == "accepted"
    assert sorted(s for d, s in tasks.items() if d != winner) == ["withdrawn"] * 9
    assert DeputyModel.get(winner).open_tasks == 1
