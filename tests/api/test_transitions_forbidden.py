"""Every action not allowed in a state, or by the wrong person, is refused and changes nothing.

One report is walked to each state once for the module (offered, accepted, in progress,
resolved, second handling, escalated, closed, merged); each case then tries one action
there as one actor and expects 403 (wrong role, or not the one who may act on a report
they can see), 404 (a report they may not see) or 409 (not allowed in this state), with a
Chinese message, and the report exactly as it was (status, version, what staff see).
"""

from __future__ import annotations

import re

import pytest

from chalicelib.store.models import ReportModel
from tests.workflow_helpers import DEPUTY_CODES, Loop, long_lived_api

CHINESE = re.compile(r"[\u4e00-\u9fff]")
STAFF = "staff-district-1"  # the district of S01, where every report here is made
ACTIONS = {
    "accept": ("accept", {}),
    "decline": ("decline", {"reason": "近期外出"}),
    "reply": ("triage", {"action": "reply", "note": "已答复"}),
    "transfer": ("triage", {"action": "transfer", "department_id": "shinan-cg"}),
    "suggestion": ("triage", {"action": "suggestion", "note": "形成代表建议"}),
    "merge": ("triage", {"action": "merge", "into": "{offered}"}),
    "progress": ("progress", {"note": "已到现场"}),
    "resolve": ("resolve", {"note": "已办结"}),
    "evaluate": ("evaluation", {"result": "satisfied"}),
    "assign": ("assign", {"deputy_id": "D07"}),
    "moderate": ("moderation", {"result": "pass"}),
}
LOGINS = {
    "handler": "handler-01",  # shinan-cg, where the in_progress and resolved reports went
    "other-handler": "handler-02",
    "station-staff": "staff-station-01",
    "district-staff": "staff-district-1",
    "other-district-staff": "staff-district-2",
    "city-staff": "staff-city",
    "other-district-deputy": "deputy-09",
}

CASES = [
    # offered: only an offered deputy may accept or decline, staff may assign
    ("offered", "reporter", "accept", 403),
    ("offered", "stranger", "accept", 403),
    ("offered", "station-staff", "accept", 403),
    ("offered", "outsider-deputy", "accept", 404),
    ("offered", "outsider-deputy", "decline", 404),
    ("offered", "other-district-deputy", "accept", 404),
    ("offered", "offered-deputy", "evaluate", 403),
    ("offered", "reporter", "evaluate", 409),
    ("offered", "offered-deputy", "reply", 403),
    ("offered", "offered-deputy", "progress", 403),
    ("offered", "offered-deputy", "resolve", 403),
    ("offered", "handler", "progress", 404),
    ("offered", "reporter", "assign", 403),
    ("offered", "offered-deputy", "assign", 403),
    ("offered", "other-district-staff", "assign", 404),
    ("offered", "station-staff", "moderate", 409),
    ("offered", "offered-deputy", "moderate", 403),
    # accepted: the accepting deputy triages; nobody accepts or declines any more
    ("accepted", "winner", "accept", 409),
    ("accepted", "loser", "accept", 409),
    ("accepted", "winner", "decline", 409),
    ("accepted", "loser", "decline", 409),
    ("accepted", "reporter", "evaluate", 409),
    ("accepted", "winner", "evaluate", 403),
    ("accepted", "stranger", "evaluate", 404),
    ("accepted", "loser", "reply", 403),
    ("accepted", "loser", "resolve", 403),
    ("accepted", "reporter", "reply", 403),
    ("accepted", "handler", "reply", 404),
    ("accepted", "handler", "progress", 404),
    ("accepted", "station-staff", "resolve", 403),
    ("accepted", "city-staff", "resolve", 403),
    ("accepted", "district-staff", "assign", 409),
    ("accepted", "other-district-staff", "assign", 404),
    ("accepted", "other-district-deputy", "reply", 404),
    # in_progress (a work order of shinan-cg): handlers report progress, never triage
    ("in_progress", "handler", "reply", 403),
    ("in_progress", "handler", "transfer", 403),
    ("in_progress", "other-handler", "progress", 404),
    ("in_progress", "winner", "merge", 409),
    ("in_progress", "winner", "decline", 409),
    ("in_progress", "winner", "accept", 409),
    ("in_progress", "reporter", "evaluate", 409),
    ("in_progress", "loser", "progress", 403),
    ("in_progress", "other-district-staff", "progress", 404),
    ("in_progress", "city-staff", "resolve", 403),
    ("in_progress", "station-staff", "assign", 409),
    # resolved: only the reporter evaluates; handling is over
    ("resolved", "winner", "progress", 409),
    ("resolved", "winner", "resolve", 409),
    ("resolved", "handler", "progress", 409),
    ("resolved", "handler", "resolve", 409),
    ("resolved", "winner", "transfer", 409),
    ("resolved", "winner", "evaluate", 403),
    ("resolved", "handler", "evaluate", 403),
    ("resolved", "station-staff", "evaluate", 403),
    ("resolved", "stranger", "evaluate", 404),
    # second_handling: handled again by the same deputy
    ("second_handling", "reporter", "evaluate", 409),
    ("second_handling", "winner", "merge", 409),
    ("second_handling", "winner", "accept", 409),
    ("second_handling", "loser", "resolve", 403),
    ("second_handling", "other-handler", "progress", 404),
    ("second_handling", "city-staff", "resolve", 403),
    # escalated: city staff may resolve, nobody else of the staff
    ("escalated", "reporter", "evaluate", 409),
    ("escalated", "station-staff", "resolve", 403),
    ("escalated", "district-staff", "resolve", 403),
    ("escalated", "city-staff", "progress", 403),
    ("escalated", "winner", "suggestion", 409),
    ("escalated", "winner", "merge", 409),
    ("escalated", "other-district-deputy", "resolve", 404),
    # closed and merged: final
    ("closed", "reporter", "evaluate", 409),
    ("closed", "stranger", "evaluate", 404),
    ("closed", "winner", "progress", 409),
    ("closed", "winner", "resolve", 409),
    ("closed", "winner", "reply", 409),
    ("closed", "winner", "decline", 409),
    ("closed", "district-staff", "assign", 409),
    ("merged", "winner", "progress", 409),
    ("merged", "winner", "transfer", 409),
    ("merged", "winner", "merge", 409),
    ("merged", "winner", "accept", 409),
    ("merged", "reporter", "evaluate", 409),
    ("merged", "station-staff", "assign", 409),
]


def _ok(result) -> dict:
    status, body = result
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def walked(stack, wechat_emulator, sms_emulator, wecom_emulator):
    """The module's API and one report in each state, built once."""
    with long_lived_api(stack, wechat_emulator, sms_emulator, wecom_emulator) as api:
        loops: dict[str, Loop] = {}

        def accepted(text: str) -> tuple[Loop, str]:
            loop = Loop(api, category="cityscape.stall", text=text, staff=STAFF)
            _ok(loop.act("accept", loop.deputy(loop.candidates()[0])))
            return loop, loop.deputy(loop.candidates()[0])

        loops["offered"] = Loop(api, category="cityscape.stall", text="占道经营", staff=STAFF)
        loops["accepted"], _ = accepted("夜市占道")
        loop, deputy = accepted("人行道摆摊")
        _ok(loop.act("triage", deputy, {"action": "transfer", "department_id": "shinan-cg"}))
        loops["in_progress"] = loop
        loop, deputy = accepted("早市堵路")
        _ok(loop.act("triage", deputy, {"action": "transfer", "department_id": "shinan-cg"}))
        _ok(loop.act("resolve", deputy, {"note": "已清理"}))
        loops["resolved"] = loop
        loop, deputy = accepted("商贩占用盲道")
        _ok(loop.act("triage", deputy, {"action": "reply", "note": "已联系城管"}))
        _ok(loop.act("evaluation", loop.citizen, {"result": "unsatisfied"}))
        loops["second_handling"] = loop
        loop, deputy = accepted("店外经营")
        _ok(loop.act("triage", deputy, {"action": "reply", "note": "已联系城管"}))
        _ok(loop.act("evaluation", loop.citizen, {"result": "unsatisfied"}))
        _ok(loop.act("resolve", deputy, {"note": "再次清理"}))
        _ok(loop.act("evaluation", loop.citizen, {"result": "unsatisfied"}))
        loops["escalated"] = loop
        loop, deputy = accepted("水果摊占道")
        _ok(loop.act("triage", deputy, {"action": "reply", "note": "已劝离"}))
        _ok(loop.act("evaluation", loop.citizen, {"result": "satisfied"}))
        loops["closed"] = loop
        loop, deputy = accepted("占道经营又来了")
        into = {"action": "merge", "into": loops["offered"].id}
        _ok(loop.act("triage", deputy, into))
        loops["merged"] = loop

        for state, loop in loops.items():
            assert loop.staff_view()["status"] == state
        yield api, loops


def _token(api, loop: Loop, actor: str) -> str:
    offered = loop.candidates()
    view = loop.staff_view()
    if actor == "reporter":
        return loop.citizen
    if actor == "stranger":
        return api.login()["token"]
    if actor == "offered-deputy":
        return loop.deputy(offered[0])
    if actor == "winner":
        return loop.deputy(view["accepted_by"])
    if actor == "loser":
        return loop.deputy(next(d for d in offered if d != view["accepted_by"]))
    if actor == "outsider-deputy":
        shinan = [f"D{n:02d}" for n in range(1, 9)]
        return loop.deputy(next(d for d in shinan if d not in offered and d in DEPUTY_CODES))
    return api.login(LOGINS[actor])["token"]


def _snapshot(loop: Loop) -> tuple:
    stored = ReportModel.get(loop.id, consistent_read=True)
    view = loop.staff_view()
    # the delivery worker may send a notice held back by the SMS gap meanwhile: compare which
    # notices exist (a refused action adds none), not how far their delivery has got
    view["notices"] = sorted(notice["id"] for notice in view.get("notices", []))
    return stored.status, stored.version, view


@pytest.mark.parametrize(("state", "actor", "action", "expected"), CASES)
def test_forbidden_action_is_refused_and_changes_nothing(walked, state, actor, action, expected):
    api, loops = walked
    loop = loops[state]
    path, body = ACTIONS[action]
    body = {k: v.format(offered=loops["offered"].id) for k, v in body.items()}
    token = _token(api, loop, actor)
    before = _snapshot(loop)

    status, answer = loop.act(path, token, body)

    assert status == expected, answer
    assert CHINESE.search(answer["error"]["message"]), answer
    assert _snapshot(loop) == before


def test_the_table_covers_every_state_and_every_action():
    assert {state for state, *_ in CASES} == {
        "offered",
        "accepted",
        "in_progress",
        "resolved",
        "second_handling",
        "escalated",
        "closed",
        "merged",
    }
    assert {action for _, _, action, _ in CASES} == set(ACTIONS)
