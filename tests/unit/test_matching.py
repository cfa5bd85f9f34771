"""Matching ranks deputies by station, duty, district, expertise, level and load."""

from chalicelib.matching.ranking import DeputyProfile, ReportContext, rank, score


def _deputy(id_, **kw):
    base = dict(name=id_, level="city", station_id="S1", district_id="d1")
    base.update(kw)
    return DeputyProfile(id=id_, **base)


REPORT = ReportContext(station_id="S1", district_id="d1", category_expertise=("交通",), weekday=2)


def test_station_deputies_come_first_and_the_one_on_duty_leads():
    deputies = [
        _deputy("other-district", station_id="S9", district_id="d9"),
        _deputy("same-district", station_id="S2"),
        _deputy("station", duty_weekdays=(5,)),
        _deputy("on-duty", duty_weekdays=(2,)),
    ]
    assert [m.deputy_id for m in rank(REPORT, deputies, 3)] == [
        "on-duty",
        "station",
        "same-district",
    ]


def test_expertise_and_load_change_the_order_and_say_why():
    expert = _deputy("expert", expertise=("交通", "法律"))
    busy_expert = _deputy("busy", expertise=("交通",), open_tasks=7)
    plain = _deputy("plain")
    ranked = rank(REPORT, [plain, busy_expert, expert], 3)
    assert [m.deputy_id for m in ranked] == ["expert", "plain", "busy"]
    assert "专业对口：交通" in ranked[0].reasons
    assert "在办 7 件（-30）" in score(REPORT, busy_expert).reasons


def test_excluded_and_unreachable_deputies_are_not_offered():
    deputies = [_deputy("a"), _deputy("b", reachable=False), _deputy("c")]
    context = ReportContext("S1", "d1", (), 1, excluded=("a",))
    assert [m.deputy_id for m in rank(context, deputies, 3)] == ["c"]


def test_ranking_is_deterministic_on_ties():
    deputies = [_deputy("b"), _deputy("a"), _deputy("c", open_tasks=1)]
    assert [m.deputy_id for m in rank(REPORT, deputies, 2)] == ["a", "b"]
